package dev.edgebench.app

/** Raw times of one benchmark: the first inference, the warm-up runs and the timed runs (ms). */
data class Timings(
    val firstInferenceMs: Double,
    val warmupMs: List<Double>,
    val iterationsMs: List<Double>
)

/**
 * The measurement protocol every edgebench runner follows: one first inference timed on its own,
 * then warm-up (at least [warmup] runs and at least [warmupSeconds]), then timed runs until at least
 * [runs] runs and at least [minSeconds] have passed, or [maxSeconds] (at least one timed run is kept).
 * Every iteration time is kept raw; statistics are the harness's job.
 */
class BenchmarkLoop(
    private val warmup: Int,
    private val warmupSeconds: Double,
    private val runs: Int,
    private val minSeconds: Double,
    private val maxSeconds: Double,
    private val clockNs: () -> Long = { System.nanoTime() }
) {
    /** Builds the loop from the intent's settings. */
    constructor(config: BenchmarkConfig) : this(
        config.warmup,
        config.warmupSeconds.toDouble(),
        config.runs,
        config.minSeconds.toDouble(),
        config.maxSeconds.toDouble()
    )

    /** Runs [once] per the protocol and returns the raw times. */
    fun measure(once: () -> Unit): Timings {
        val first = timeMs(once)

        val warmupMs = ArrayList<Double>()
        val warmupStart = clockNs()
        while (warmupMs.size < warmup || secondsSince(warmupStart).let { it < warmupSeconds && it < maxSeconds }) {
            warmupMs.add(timeMs(once))
        }

        val iterationsMs = ArrayList<Double>()
        val timedStart = clockNs()
        while (true) {
            iterationsMs.add(timeMs(once))
            val elapsed = secondsSince(timedStart)
            if (iterationsMs.size >= runs && elapsed >= minSeconds) break
            if (elapsed >= maxSeconds) break
        }
        return Timings(first, warmupMs, iterationsMs)
    }

    private fun timeMs(once: () -> Unit): Double {
        val start = clockNs()
        once()
        return (clockNs() - start) / 1e6
    }

    private fun secondsSince(startNs: Long): Double = (clockNs() - startNs) / 1e9
}

/** The median of [values] (mean of the two middle values for an even count); NaN when empty. */
fun median(values: List<Double>): Double {
    if (values.isEmpty()) return Double.NaN
    val sorted = values.sorted()
    val mid = sorted.size / 2
    return if (sorted.size % 2 == 1) sorted[mid] else (sorted[mid - 1] + sorted[mid]) / 2.0
}
