package dev.edgebench.app

/**
 * A small JSON encoder for the result file.
 *
 * Own code rather than org.json because org.json throws on NaN, formats numbers its own way and is
 * not available in plain JVM unit tests; this one maps non-finite numbers to null.
 */
object Json {
    /** Encodes maps (string keys), lists, arrays of numbers, strings, numbers, booleans and null. */
    fun encode(value: Any?): String {
        val out = StringBuilder()
        write(out, value)
        return out.toString()
    }

    private fun write(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is String -> writeString(out, value)
            is Boolean -> out.append(if (value) "true" else "false")
            is Double -> out.append(if (value.isNaN() || value.isInfinite()) "null" else value.toString())
            is Float -> out.append(if (value.isNaN() || value.isInfinite()) "null" else value.toString())
            is Number -> out.append(value.toString())
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((key, item) in value) {
                    if (!first) out.append(',')
                    first = false
                    writeString(out, key.toString())
                    out.append(':')
                    write(out, item)
                }
                out.append('}')
            }
            is Iterable<*> -> writeList(out, value.toList())
            is IntArray -> writeList(out, value.toList())
            is LongArray -> writeList(out, value.toList())
            is DoubleArray -> writeList(out, value.toList())
            is FloatArray -> writeList(out, value.toList())
            is Array<*> -> writeList(out, value.toList())
            else -> throw IllegalArgumentException("cannot encode ${value.javaClass.name} as JSON")
        }
    }

    private fun writeList(out: StringBuilder, items: List<*>) {
        out.append('[')
        items.forEachIndexed { i, item ->
            if (i > 0) out.append(',')
            write(out, item)
        }
        out.append(']')
    }

    private fun writeString(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' -> out.append(String.format("\\u%04x", c - '\u0000'))
                else -> out.append(c)
            }
        }
        out.append('"')
    }
}
