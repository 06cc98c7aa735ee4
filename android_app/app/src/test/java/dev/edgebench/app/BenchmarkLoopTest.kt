package dev.edgebench.app

import org.junit.Assert.assertEquals
import org.junit.Test

class BenchmarkLoopTest {
    /** A fake clock: every inference takes exactly [stepNs]. */
    private class FakeClock(private val stepNs: Long) {
        var now = 0L
        val read: () -> Long = { now }
        val infer: () -> Unit = { now += stepNs }
    }

    @Test
    fun countsDecideWhenNoTimeLimitsApply() {
        val clock = FakeClock(2_000_000)
        val t = BenchmarkLoop(3, 0.0, 5, 0.0, 60.0, clock.read).measure(clock.infer)
        assertEquals(2.0, t.firstInferenceMs, 1e-9)
        assertEquals(3, t.warmupMs.size)
        assertEquals(5, t.iterationsMs.size)
        assertEquals(listOf(2.0, 2.0, 2.0, 2.0, 2.0), t.iterationsMs)
    }

    @Test
    fun minSecondsExtendsTheTimedRuns() {
        val clock = FakeClock(100_000_000) // 100 ms per run
        val t = BenchmarkLoop(0, 0.0, 2, 1.0, 60.0, clock.read).measure(clock.infer)
        assertEquals(10, t.iterationsMs.size)
        assertEquals(0, t.warmupMs.size)
    }

    @Test
    fun maxSecondsCapsTheTimedRunsButKeepsOne() {
        val clock = FakeClock(2_000_000_000) // 2 s per run
        val t = BenchmarkLoop(1, 0.0, 50, 0.0, 1.0, clock.read).measure(clock.infer)
        assertEquals(1, t.iterationsMs.size)
    }

    @Test
    fun warmupSecondsExtendsWarmUp() {
        val clock = FakeClock(250_000_000)
        val t = BenchmarkLoop(1, 1.0, 1, 0.0, 60.0, clock.read).measure(clock.infer)
        assertEquals(4, t.warmupMs.size)
    }

    @Test
    fun medianOfOddAndEvenCounts() {
        assertEquals(2.0, median(listOf(3.0, 1.0, 2.0)), 0.0)
        assertEquals(2.5, median(listOf(4.0, 1.0, 2.0, 3.0)), 0.0)
        assertEquals(true, median(emptyList()).isNaN())
    }
}
