package dev.edgebench.app

import org.junit.Assert.assertEquals
import org.junit.Test

class JsonTest {
    @Test
    fun encodesNestedValues() {
        val value = linkedMapOf(
            "a" to listOf(1, 2.5, null), "b" to "q\"\\\n\u0001", "c" to true,
            "d" to Double.NaN, "e" to linkedMapOf("f" to 3L)
        )
        assertEquals(
            "{\"a\":[1,2.5,null],\"b\":\"q\\\"\\\\\\n\\u0001\",\"c\":true,\"d\":null,\"e\":{\"f\":3}}",
            Json.encode(value)
        )
    }

    @Test
    fun rawSamplesCarriesTheContractIdentity() {
        val error = ErrorInfo(Contract.STAGE_CONFIG, "bad", null)
        val json = RawSamples.failure(error, null, null, null, null, null).toJson()
        assertEquals(true, json.startsWith("{\"schema_version\":1,\"runner\":\"android_app\",\"status\":\"error\""))
    }
}
