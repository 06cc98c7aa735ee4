package dev.edgebench.app

import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Build
import android.os.Debug
import android.os.PowerManager
import android.os.SystemClock
import java.io.File
import java.io.IOException

/** What the benchmark mode records about the phone: identity (host) and state (before / after). */
object DeviceInfo {
    /** The `host` object: device identity, SoC, cores, Android version, app and runtime. */
    fun host(context: Context, runtimeVersion: String?): MutableMap<String, Any?> {
        val host = linkedMapOf<String, Any?>(
            "kind" to "android",
            "manufacturer" to Build.MANUFACTURER,
            "model" to Build.MODEL,
            "device" to Build.DEVICE,
            "board" to Build.BOARD,
            "hardware" to Build.HARDWARE,
            "soc_manufacturer" to null,
            "soc_model" to null,
            "abis" to Build.SUPPORTED_ABIS.toList(),
            "cores" to Runtime.getRuntime().availableProcessors(),
            "os" to "Android ${Build.VERSION.RELEASE}",
            "sdk_int" to Build.VERSION.SDK_INT,
            "fingerprint" to Build.FINGERPRINT,
            "app_package" to context.packageName,
            "app_version" to BuildConfig.VERSION_NAME,
            "litert_version" to BuildConfig.LITERT_VERSION,
            "runtime_version" to runtimeVersion
        )
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            host["soc_manufacturer"] = Build.SOC_MANUFACTURER
            host["soc_model"] = Build.SOC_MODEL
        }
        return host
    }

    /** One `device_state.before` / `.after` snapshot: thermal status, battery, power save, time. */
    fun state(context: Context): Map<String, Any?> {
        val power = context.getSystemService(Context.POWER_SERVICE) as PowerManager
        val state = linkedMapOf<String, Any?>(
            "uptime_ms" to SystemClock.elapsedRealtime(),
            "thermal_status" to null,
            "thermal_status_name" to null,
            "thermal_headroom" to null,
            "power_save_mode" to power.isPowerSaveMode,
            "interactive" to power.isInteractive
        )
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            val status = power.currentThermalStatus
            state["thermal_status"] = status
            state["thermal_status_name"] = thermalName(status)
        }
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            // NaN when the device cannot forecast; Json writes it as null.
            state["thermal_headroom"] = power.getThermalHeadroom(0)
        }
        // A sticky broadcast: reading it registers nothing.
        val filter = IntentFilter(Intent.ACTION_BATTERY_CHANGED)
        val battery = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            context.registerReceiver(null, filter, Context.RECEIVER_NOT_EXPORTED)
        } else {
            context.registerReceiver(null, filter)
        }
        if (battery != null) {
            val tenthsC = battery.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Int.MIN_VALUE)
            val level = battery.getIntExtra(BatteryManager.EXTRA_LEVEL, -1)
            val scale = battery.getIntExtra(BatteryManager.EXTRA_SCALE, -1)
            val plugged = battery.getIntExtra(BatteryManager.EXTRA_PLUGGED, 0)
            state["battery_temp_c"] = if (tenthsC == Int.MIN_VALUE) null else tenthsC / 10.0
            state["battery_level_pct"] = if (level >= 0 && scale > 0) 100.0 * level / scale else null
            state["plugged"] = plugged != 0
        }
        return state
    }

    /** Total PSS of this process in bytes (Debug.MemoryInfo, which reports KiB). */
    fun pssBytes(): Long {
        val info = Debug.MemoryInfo()
        Debug.getMemoryInfo(info)
        return info.totalPss.toLong() * 1024L
    }

    /** A `/proc/self/status` field in bytes (VmRSS, VmHWM), or null where the kernel hides it. */
    fun procStatusBytes(field: String): Long? {
        val lines = try {
            File("/proc/self/status").readLines()
        } catch (e: IOException) {
            return null
        }
        val line = lines.firstOrNull { it.startsWith("$field:") } ?: return null
        val kib = line.substringAfter(':').trim().substringBefore(' ').toLongOrNull() ?: return null
        return kib * 1024L
    }

    private fun thermalName(status: Int): String = when (status) {
        PowerManager.THERMAL_STATUS_NONE -> "none"
        PowerManager.THERMAL_STATUS_LIGHT -> "light"
        PowerManager.THERMAL_STATUS_MODERATE -> "moderate"
        PowerManager.THERMAL_STATUS_SEVERE -> "severe"
        PowerManager.THERMAL_STATUS_CRITICAL -> "critical"
        PowerManager.THERMAL_STATUS_EMERGENCY -> "emergency"
        PowerManager.THERMAL_STATUS_SHUTDOWN -> "shutdown"
        else -> "unknown"
    }
}
