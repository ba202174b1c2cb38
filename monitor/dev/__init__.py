"""Developer tools: a local Kafka broker (:mod:`monitor.dev.kafka`) and its background
run by ``driftline dev kafka`` (:mod:`monitor.dev.background`).

Only the command line (:mod:`monitor.cli.dev`), the tests and the benchmarks import this
package; the monitor's core and engines never do.
"""
