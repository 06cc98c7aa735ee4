package dev.edgebench.app

/**
 * The benchmark mode's settings, read from the intent extras named in [Contract].
 *
 * Parsing is strict: an extra of the wrong type (say `--es runs 5` instead of `--ei runs 5`) is an
 * error result, never a silent fall-back to the default, so a typo in the harness cannot quietly
 * measure something else.
 */
data class BenchmarkConfig(
    val model: String,
    val warmup: Int,
    val warmupSeconds: Float,
    val runs: Int,
    val minSeconds: Float,
    val maxSeconds: Float,
    val threads: Int,
    val delegate: String,
    val out: String
) {
    /** The outcome of [parse]. */
    sealed class Parsed {
        /** Every extra was valid. */
        data class Ok(val config: BenchmarkConfig) : Parsed()

        /** At least one extra was bad; [out] is where the error result goes. */
        data class Invalid(val problems: List<String>, val out: String) : Parsed() {
            /** One-line message listing every problem. */
            val message: String get() = problems.joinToString("; ")
        }
    }

    companion object {
        private val OUT_REGEX = Regex(Contract.PATTERN_OUT)

        /**
         * Reads every extra through [lookup] (an intent's extras: name -> value or null when absent)
         * and returns a config, or every problem found.
         */
        fun parse(lookup: (String) -> Any?): Parsed {
            val problems = ArrayList<String>()
            val out = stringExtra(lookup, Contract.EXTRA_OUT, Contract.DEFAULT_OUT, problems)
            val outOk = OUT_REGEX.matches(out)
            if (!outOk) problems.add("out '$out' must match ${Contract.PATTERN_OUT} (a file name, no directories)")
            val model = stringExtra(lookup, Contract.EXTRA_MODEL, "", problems)
            if (model.isEmpty()) problems.add("the ${Contract.EXTRA_MODEL} extra is required (--es ${Contract.EXTRA_MODEL} PATH)")
            val warmup = intExtra(lookup, Contract.EXTRA_WARMUP, Contract.DEFAULT_WARMUP, Contract.MIN_WARMUP, problems)
            val warmupSeconds = floatExtra(
                lookup, Contract.EXTRA_WARMUP_SECONDS, Contract.DEFAULT_WARMUP_SECONDS,
                Contract.MIN_WARMUP_SECONDS, problems
            )
            val runs = intExtra(lookup, Contract.EXTRA_RUNS, Contract.DEFAULT_RUNS, Contract.MIN_RUNS, problems)
            val minSeconds = floatExtra(
                lookup, Contract.EXTRA_MIN_SECONDS, Contract.DEFAULT_MIN_SECONDS, Contract.MIN_MIN_SECONDS, problems
            )
            val maxSeconds = floatExtra(
                lookup, Contract.EXTRA_MAX_SECONDS, Contract.DEFAULT_MAX_SECONDS, Contract.MIN_MAX_SECONDS, problems
            )
            val threads = intExtra(lookup, Contract.EXTRA_THREADS, Contract.DEFAULT_THREADS, Contract.MIN_THREADS, problems)
            val delegate = stringExtra(lookup, Contract.EXTRA_DELEGATE, Contract.DEFAULT_DELEGATE, problems)
            if (delegate !in Contract.CHOICES_DELEGATE) {
                problems.add("delegate '$delegate' must be one of ${Contract.CHOICES_DELEGATE.joinToString("|")}")
            }
            if (problems.isNotEmpty()) {
                return Parsed.Invalid(problems, if (outOk) out else Contract.DEFAULT_OUT)
            }
            return Parsed.Ok(
                BenchmarkConfig(model, warmup, warmupSeconds, runs, minSeconds, maxSeconds, threads, delegate, out)
            )
        }

        private fun stringExtra(lookup: (String) -> Any?, name: String, default: String, problems: MutableList<String>): String {
            val value = lookup(name) ?: return default
            if (value is String) return value
            problems.add(typeProblem(name, "a string (--es)", value))
            return default
        }

        private fun intExtra(
            lookup: (String) -> Any?,
            name: String,
            default: Int,
            min: Int,
            problems: MutableList<String>
        ): Int {
            val value = lookup(name) ?: return default
            if (value !is Int) {
                problems.add(typeProblem(name, "an int (--ei)", value))
                return default
            }
            if (value < min) problems.add("$name must be >= $min, got $value")
            return value
        }

        private fun floatExtra(
            lookup: (String) -> Any?,
            name: String,
            default: Float,
            min: Float,
            problems: MutableList<String>
        ): Float {
            val raw = lookup(name) ?: return default
            // --ei for a whole number of seconds is accepted: the value is the same.
            val value = when (raw) {
                is Float -> raw
                is Double -> raw.toFloat()
                is Int -> raw.toFloat()
                else -> {
                    problems.add(typeProblem(name, "a float (--ef)", raw))
                    return default
                }
            }
            if (value.isNaN() || value < min) problems.add("$name must be >= $min, got $value")
            return value
        }

        private fun typeProblem(name: String, expected: String, value: Any): String =
            "extra $name must be $expected, got ${value.javaClass.simpleName} '$value'"
    }
}
