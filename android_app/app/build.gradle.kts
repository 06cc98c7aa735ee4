import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    // Must equal "package" in edgebench/targets/android_app_contract.json (a unit test checks it).
    namespace = "dev.edgebench.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.edgebench.app"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "LITERT_VERSION", "\"${libs.versions.litert.get()}\"")
    }

    buildFeatures {
        buildConfig = true
    }

    // Memory-mapping a model straight out of the APK needs it stored uncompressed.
    androidResources {
        noCompress.add("tflite")
    }

    buildTypes {
        // edgebench reads results back with `run-as`, which only works on a debuggable build:
        // benchmark with the debug APK (`./gradlew assembleDebug`). LiteRT's native code is
        // prebuilt and optimised either way; only the Kotlin around it is unoptimised.
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(libs.androidx.activity.ktx)
    implementation(libs.litert)
    // The optional GPU delegate (Interpreter + GpuDelegate); the CPU path needs only `litert`.
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    testImplementation(libs.junit)
}

// The demo needs the model that scripts/bundle_model.sh exports with edgebench; the benchmark
// mode does not (edgebench pushes its own), so a missing one is a warning, not a failure.
val checkBundledModel by tasks.registering {
    val info = layout.projectDirectory.file("src/main/assets/model.json")
    doLast {
        if (!info.asFile.exists()) {
            logger.warn(
                "edgebench: no bundled model (app/src/main/assets/model.json); the demo screen will " +
                    "say so. Run android_app/scripts/bundle_model.sh first to bundle one."
            )
        }
    }
}
tasks.named("preBuild") {
    dependsOn(checkBundledModel)
}
