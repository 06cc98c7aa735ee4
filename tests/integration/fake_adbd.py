#!/usr/bin/env python3
"""A fake Android device for the real ``adb`` client: the adb transport protocol over TCP.

    python fake_adbd.py --port 40123 --sandbox /tmp/dev [--model "Pixel 7"]
    adb connect 127.0.0.1:40123

Speaks what AOSP's packages/modules/adb documents (protocol.txt, SYNC.TXT, shell_protocol.h):
24-byte little-endian message headers; CNXN (version 0x01000001, maxdata, the
``device::ro.product.name=…;ro.product.model=…;ro.product.device=…;features=…`` banner) without
AUTH; OPEN / OKAY / WRTE / CLSE streams with one unacknowledged WRTE at a time; ``shell,v2,…:``
streams framed as shell-protocol packets (id byte + u32 length; stdin 0, stdout 1, stderr 2,
exit 3, close-stdin 4) ending with the exit code; plain ``shell:`` / ``exec:``; and ``sync:`` with
STAT / STA2 / LST2 / LIST / LIS2 / SEND / RECV / DATA / DONE / OKAY / FAIL / QUIT.

Shell commands run under the host's ``sh -c`` in a sandbox directory that stands in for the device
filesystem: absolute device paths (/data, /sdcard, /sys, /proc/cpuinfo …) in a command are
mapped into the sandbox, and ``/system/bin`` holds fake ``getprop``, ``am``, ``pm``, ``run-as``,
``dumpsys`` and ``uname``. ``am start`` launches a fake edgebench app (the intent contract in
edgebench/targets/android_app_contract.json) that really runs the .tflite with ai_edge_litert;
:func:`write_fake_benchmark_model` writes a fake LiteRT ``benchmark_model`` that really runs the
model and prints the real tool's output format. ``<sandbox>/.fake/quota_bytes`` simulates a full disk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

A_SYNC, A_CNXN, A_OPEN, A_OKAY = 0x434E5953, 0x4E584E43, 0x4E45504F, 0x59414B4F
A_CLSE, A_WRTE, A_AUTH, A_STLS = 0x45534C43, 0x45545257, 0x48545541, 0x534C5453
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
SYNC_DATA_MAX = 64 * 1024
FEATURES = "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir"
ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW = 0, 1, 2, 3, 4, 5

CONTRACT = json.loads((Path(__file__).parents[2] / "edgebench" / "targets" / "android_app_contract.json").read_text())
PACKAGE = CONTRACT["package"]

# Device paths that live in the sandbox (everything else the shell touches is the host's: sh, sed …)
_DEVICE_PATH = re.compile(r"(?<![\w./-])(/(?:data|sdcard|storage|sys|system|vendor|apex)(?=[/\s'\"]|$)"
                          r"|/proc/(?:cpuinfo|loadavg|meminfo)(?=[\s'\"]|$))")


# ------------------------------------------------------------------------------------ fake device tools

_TOOL_HEAD = f"""#!{sys.executable}
import json, os, sys, time
ROOT = os.environ["FAKE_ROOT"]
FAKE = os.path.join(ROOT, ".fake")
def props():
    with open(os.path.join(FAKE, "props.json")) as fh:
        return json.load(fh)
def installed(pkg):
    return os.path.exists(os.path.join(FAKE, "packages", pkg))
"""

TOOLS = {
    "getprop": _TOOL_HEAD + r"""
p = props()
if len(sys.argv) > 1:
    print(p.get(sys.argv[1], ""))
else:
    for k in sorted(p):
        print("[%s]: [%s]" % (k, p[k]))
""",
    "uname": _TOOL_HEAD + r"""
print("aarch64" if "-m" in sys.argv else "Linux")
""",
    "dumpsys": _TOOL_HEAD + r"""
def temp():
    with open(os.path.join(ROOT, "sys/class/thermal/thermal_zone0/temp")) as fh:
        return int(fh.read().strip()) / 1000.0
what = sys.argv[1] if len(sys.argv) > 1 else ""
if what == "battery":
    print("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
          "  status: 2\n  health: 2\n  present: true\n  level: 81\n  scale: 100\n  voltage: 4213\n"
          "  temperature: %d\n  technology: Li-ion" % round((temp() - 4.0) * 10))
elif what == "thermalservice":
    t = temp()
    print("IsStatusOverride: false\nThermalEventListeners:\n\tcallbacks: 1\nThermalStatusListeners:\n\tcallbacks: 1\n"
          "Thermal Status: %d\nCached temperatures:\nHAL Ready: true\nHAL connection:\n\tThermalHAL AIDL 1  connected: yes\n"
          "Current temperatures from HAL:\n\tTemperature{mValue=%.1f, mType=0, mName=CPU0, mStatus=0}\n"
          "\tTemperature{mValue=%.1f, mType=2, mName=battery, mStatus=0}\n"
          "\tTemperature{mValue=%.1f, mType=3, mName=skin, mStatus=0}" % (1 if t > 45 else 0, t, t - 4.0, t - 6.0))
else:
    print("Can't find service: %s" % what)
""",
    "pm": _TOOL_HEAD + r"""
args = sys.argv[1:]
if args[:1] == ["path"] and len(args) > 1:
    if installed(args[1]):
        print("package:/data/app/~~fake==/%s-1/base.apk" % args[1])
        sys.exit(0)
    sys.exit(1)
if args[:1] == ["install"]:
    apk = [a for a in args[1:] if not a.startswith("-")]
    if not apk or not os.path.isfile(apk[-1]):
        print("Error: APK not found", file=sys.stderr)
        sys.exit(1)
    with open(apk[-1], "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        print("Failure [INSTALL_PARSE_FAILED_NOT_APK: not a zip archive]")
        sys.exit(1)
    os.makedirs(os.path.join(FAKE, "packages"), exist_ok=True)
    open(os.path.join(FAKE, "packages", os.environ.get("FAKE_APK_PACKAGE", "@PACKAGE@")), "w").close()
    print("Success")
    sys.exit(0)
if args[:2] == ["list", "packages"]:
    for pkg in sorted(os.listdir(os.path.join(FAKE, "packages"))) if os.path.isdir(os.path.join(FAKE, "packages")) else []:
        print("package:" + pkg)
    sys.exit(0)
print("Unknown command: %s" % " ".join(args), file=sys.stderr)
sys.exit(255)
""".replace("@PACKAGE@", PACKAGE),
    "run-as": _TOOL_HEAD + r"""
if len(sys.argv) < 3:
    print("usage: run-as <package-name> [--user <uid>] <command> [<args>]", file=sys.stderr)
    sys.exit(1)
pkg = sys.argv[1]
if not installed(pkg):
    print("run-as: unknown package: %s" % pkg, file=sys.stderr)
    sys.exit(1)
home = os.path.join(ROOT, "data/data", pkg)
os.makedirs(os.path.join(home, "files"), exist_ok=True)
os.chdir(home)
os.execvp(sys.argv[2], sys.argv[2:])
""",
    "am": _TOOL_HEAD + r"""
args = sys.argv[1:]
if not args or args[0] != "start":
    print("Error: unknown command", file=sys.stderr)
    sys.exit(1)
component, extras, i = None, {}, 1
kinds = {"--es": str, "--ei": int, "--ef": float}
while i < len(args):
    a = args[i]
    if a in ("-W", "-S"):
        i += 1
    elif a == "-n":
        component = args[i + 1]; i += 2
    elif a in kinds:
        extras[args[i + 1]] = kinds[a](args[i + 2]); i += 3
    else:
        print("Error: Unknown option: %s" % a, file=sys.stderr); sys.exit(1)
pkg, _, act = (component or "").partition("/")
contract = json.load(open(os.path.join(FAKE, "contract.json")))
if not installed(pkg) or component != contract["component"]:
    print("Starting: Intent { cmp=%s }" % component)
    print("Error type 3\nError: Activity class {%s} does not exist." % component)
    sys.exit(0)
print("Starting: Intent { cmp=%s (has extras) }" % component)
log = open(os.path.join(FAKE, "app.log"), "a")
subprocess = __import__("subprocess")
subprocess.Popen([sys.executable, os.path.join(FAKE, "fake_app.py"), json.dumps(extras)], stdout=log, stderr=log,
                 start_new_session=True, cwd=os.path.join(ROOT, "data/data", pkg))
time.sleep(0.05)
print("Status: ok\nLaunchState: COLD\nActivity: %s\nTotalTime: 212\nWaitTime: 215\nComplete" % component)
""",
}

# The fake edgebench app's benchmark mode: reads the contract's extras, runs the model with LiteRT.
FAKE_APP = _TOOL_HEAD + r"""
import re
extras = json.loads(sys.argv[1])
contract = json.load(open(os.path.join(FAKE, "contract.json")))
spec = contract["extras"]
files = os.path.join(os.getcwd(), "files")
os.makedirs(files, exist_ok=True)
out = extras.get("out", spec["out"]["default"])
if not re.match(spec["out"]["pattern"], out):
    sys.exit(2)
def write(result):
    tmp = os.path.join(files, out + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.rename(tmp, os.path.join(files, out))
base = {"schema_version": 1, "runner": "android_app", "runtime": "litert_android", "format": "tflite",
        "runtime_version": None, "model_path": extras.get("model"), "threads": extras.get("threads", 4),
        "delegate": extras.get("delegate", "cpu"), "warmup_ms": [], "iterations_ms": [], "include_io": False}
model = extras.get("model", "")
device_model = model[len(ROOT):] if model.startswith(ROOT) else model
if not any(device_model.startswith(d) for d in contract["allowed_model_dirs"]):
    write(dict(base, status="error", error={"stage": "args", "message": "model path not allowed: " + device_model}))
    sys.exit(0)
try:
    from ai_edge_litert import interpreter as lite
    import numpy as np
    t0 = time.perf_counter()
    it = lite.Interpreter(model_path=model, num_threads=int(extras.get("threads", 4)))
    it.allocate_tensors()
    load_ms = (time.perf_counter() - t0) * 1e3
    inp = it.get_input_details()[0]
    x = np.random.default_rng(0).standard_normal(inp["shape"]).astype(inp["dtype"])
    def once():
        s = time.perf_counter_ns()
        it.set_tensor(inp["index"], x); it.invoke(); it.get_tensor(it.get_output_details()[0]["index"])
        return (time.perf_counter_ns() - s) / 1e6
    first = once()
    warm = [once() for _ in range(int(extras.get("warmup", 10)))]
    runs, iters, start = int(extras.get("runs", 50)), [], time.perf_counter()
    while len(iters) < runs or time.perf_counter() - start < float(extras.get("min_seconds", 0.0)):
        iters.append(once())
        if time.perf_counter() - start > float(extras.get("max_seconds", 60.0)):
            break
    write(dict(base, status="ok", error=None, load_ms=load_ms, first_inference_ms=first, warmup_ms=warm,
               iterations_ms=iters, input_shapes=[list(map(int, inp["shape"]))]))
except Exception as exc:
    write(dict(base, status="error", error={"stage": "run", "message": repr(exc)}))
"""

FAKE_BENCHMARK_MODEL = f"#!{sys.executable}\n" + r'''
"""Fake LiteRT benchmark_model: runs the model with ai_edge_litert and prints the real tool's format."""
import os, resource, sys, time
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
graph = flags.get("graph", "")
def log(msg):
    print("INFO: " + msg, flush=True)
log("STARTING!")
log("Log parameter values verbosely: [0]")
log("Min num runs: [%s]" % flags.get("num_runs", "50"))
log("Num threads: [%s]" % flags.get("num_threads", "-1"))
log("Graph: [%s]" % graph)
log("#threads used for CPU inference: [%s]" % flags.get("num_threads", "-1"))
if not os.path.isfile(graph):
    print("ERROR: Could not open '%s'." % graph)
    print("ERROR: Failed to mmap model %s" % graph)
    sys.exit(1)
import numpy as np
from ai_edge_litert import interpreter as lite
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
log("Loaded model %s" % graph)
t0 = time.perf_counter()
it = lite.Interpreter(model_path=graph, num_threads=max(1, int(flags.get("num_threads", "1"))))
it.allocate_tensors()
init_us = (time.perf_counter() - t0) * 1e6
rss_init = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
log("Created TensorFlow Lite XNNPACK delegate for CPU.")
log("The input model file size (MB): %g" % (os.path.getsize(graph) / 1e6))
log("Initialized session in %gms." % (init_us / 1e3))
inp = it.get_input_details()[0]
x = np.random.default_rng(0).standard_normal(inp["shape"]).astype(inp["dtype"])
def once():
    s = time.perf_counter_ns()
    it.set_tensor(inp["index"], x); it.invoke()
    return (time.perf_counter_ns() - s) // 1000
def stat(v):
    n = len(v); avg = sum(v) / n
    std = int((sum((a - avg) ** 2 for a in v) / n) ** 0.5)
    if n == 1:
        return "count=1 curr=%d" % v[0]
    s = sorted(v)
    return "count=%d first=%d curr=%d min=%d max=%d avg=%g std=%d p5=%d median=%d p95=%d" % (
        n, v[0], v[-1], s[0], s[-1], avg, std, s[int(0.05 * (n - 1))], s[(n - 1) // 2], s[int(0.95 * (n - 1))])
def phase(n, secs, cap):
    log("Running benchmark for at least %d iterations and at least %g seconds but terminate if exceeding %g seconds." % (n, secs, cap))
    v, start = [], time.perf_counter()
    while len(v) < n or time.perf_counter() - start < secs:
        v.append(once())
        if time.perf_counter() - start > cap:
            break
    log(stat(v))
    log("")
    return v
warm = phase(max(1, int(flags.get("warmup_runs", "1"))), float(flags.get("warmup_min_secs", "0.5")), 150.0)
runs = phase(int(flags.get("num_runs", "50")), float(flags.get("min_secs", "1")), float(flags.get("max_secs", "150")))
log("Inference timings in us: Init: %d, First inference: %d, Warmup (avg): %g, Inference (avg): %g" % (
    init_us, warm[0], sum(warm) / len(warm), sum(runs) / len(runs)))
log("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.")
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
log("Memory footprint delta from the start of the tool (MB): init=%g overall=%g" % ((rss_init - rss0) / 1024, (rss1 - rss0) / 1024))
if flags.get("report_peak_memory_footprint") == "true":
    log("Overall peak memory footprint (MB) via periodic monitoring: %g" % (rss1 / 1024))
'''


def write_fake_benchmark_model(path: Path, transcript: str | None = None) -> Path:
    """Write the fake ``benchmark_model`` executable (what ``--benchmark-binary`` points at in tests).

    With ``transcript`` (the text a real build printed, e.g. an older LiteRT / TFLite release) the
    fake prints exactly that after checking ``--graph`` exists, instead of running the model."""
    if transcript is None:
        path.write_text(FAKE_BENCHMARK_MODEL)
    else:
        path.write_text(f"#!{sys.executable}\n" + "import os, sys\n"
                        "flags = dict(a[2:].split('=', 1) for a in sys.argv[1:] if a.startswith('--') and '=' in a)\n"
                        "if not os.path.isfile(flags.get('graph', '')):\n"
                        "    print('ERROR: Could not open %s.' % flags.get('graph')); sys.exit(1)\n"
                        f"sys.stdout.write({transcript!r})\n")
    path.chmod(0o755)
    return path


def make_sandbox(root: Path, model: str) -> None:
    """The device filesystem: /data/local/tmp, /sdcard, /system/bin tools, /sys cpufreq and thermal files."""
    if not re.match(r"^[A-Za-z0-9_./-]+$", str(root)):
        raise SystemExit(f"sandbox path must be plain characters: {root}")
    for d in ("data/local/tmp", "data/data", "sdcard", "system/bin", "proc", ".fake/packages"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for name, text in TOOLS.items():
        (root / "system/bin" / name).write_text(text)
        (root / "system/bin" / name).chmod(0o755)
    (root / ".fake" / "fake_app.py").write_text(FAKE_APP)
    (root / ".fake" / "contract.json").write_text(json.dumps(CONTRACT))
    props = {"ro.product.model": model, "ro.product.manufacturer": "Google", "ro.product.name": "panther",
             "ro.product.device": "panther", "ro.soc.manufacturer": "Google", "ro.soc.model": "GS201",
             "ro.board.platform": "gs201", "ro.hardware": "panther", "ro.build.version.release": "14",
             "ro.build.version.sdk": "34", "ro.product.cpu.abi": "arm64-v8a",
             "ro.build.fingerprint": "google/panther/panther:14/UQ1A.240205.004/11269751:user/release-keys"}
    (root / ".fake" / "props.json").write_text(json.dumps(props))
    (root / "proc" / "cpuinfo").write_text(
        "".join(f"processor\t: {i}\nBogoMIPS\t: 49.15\nFeatures\t: fp asimd aes crc32 atomics\n"
                f"CPU implementer\t: 0x41\nCPU part\t: {'0xd05' if i < 4 else '0xd41'}\n\n" for i in range(8))
        + "Hardware\t: Google Tensor G2\n")
    (root / "proc" / "loadavg").write_text("1.21 0.98 0.77 2/1234 5678\n")
    for i in range(8):
        d = root / f"sys/devices/system/cpu/cpu{i}/cpufreq"
        d.mkdir(parents=True, exist_ok=True)
        (d / "scaling_governor").write_text("sched_pixel\n")
        (d / "scaling_cur_freq").write_text(("1803000" if i < 4 else "2348000") + "\n")
        (d / "cpuinfo_max_freq").write_text(("1803000" if i < 4 else "2850000") + "\n")
    for i, (kind, temp) in enumerate((("BIG", 38500), ("LITTLE", 36200), ("battery", 31000))):
        d = root / f"sys/class/thermal/thermal_zone{i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "type").write_text(kind + "\n")
        (d / "temp").write_text(f"{temp}\n")


# ------------------------------------------------------------------------------------------ protocol

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("host closed the connection")
        buf += chunk
    return bytes(buf)


class Stream:
    """One OPENed service stream: our id, the host's id, and flow control (wait for OKAY)."""

    def __init__(self, conn: "Connection", local: int, remote: int):
        self.conn, self.local, self.remote = conn, local, remote
        self.acked = threading.Event()
        self.acked.set()
        self.closed = threading.Event()
        self.inbox: list[bytes] = []
        self.cond = threading.Condition()

    def write(self, data: bytes) -> bool:
        for i in range(0, len(data), self.conn.max_payload):
            if not self.acked.wait(60) or self.closed.is_set():
                return False
            self.acked.clear()
            self.conn.send(A_WRTE, self.local, self.remote, data[i:i + self.conn.max_payload])
        return True

    def feed(self, data: bytes) -> None:
        with self.cond:
            self.inbox.append(data)
            self.cond.notify_all()

    def read(self, timeout: float = 120) -> bytes | None:
        """Next chunk the host wrote, or None once the host closed the stream."""
        with self.cond:
            while not self.inbox and not self.closed.is_set():
                if not self.cond.wait(timeout):
                    return None
            return self.inbox.pop(0) if self.inbox else None

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.conn.send(A_CLSE, self.local, self.remote)
            self.conn.streams.pop(self.local, None)
        with self.cond:
            self.cond.notify_all()


class Connection:
    """One TCP connection from the adb server."""

    def __init__(self, sock: socket.socket, device: "FakeDevice"):
        self.sock, self.device = sock, device
        self.wlock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.max_payload = 4096

    def send(self, cmd: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        header = struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF)
        with self.wlock:
            self.sock.sendall(header + data)

    def serve(self) -> None:
        try:
            while True:
                cmd, arg0, arg1, length, _check, magic = struct.unpack("<6I", _recv_exact(self.sock, 24))
                if magic != cmd ^ 0xFFFFFFFF:
                    raise ConnectionError("bad magic")
                data = _recv_exact(self.sock, length) if length else b""
                self.dispatch(cmd, arg0, arg1, data)
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in list(self.streams.values()):
                stream.closed.set()
                with stream.cond:
                    stream.cond.notify_all()
            self.sock.close()

    def dispatch(self, cmd: int, arg0: int, arg1: int, data: bytes) -> None:
        if cmd == A_CNXN:
            self.max_payload = max(4096, min(arg1, MAX_PAYLOAD))
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.device.banner())
        elif cmd == A_OPEN:
            local, self.next_id = self.next_id, self.next_id + 1
            dest = data.rstrip(b"\0").decode(errors="replace")
            handler = self.device.service(dest)
            if handler is None:
                self.send(A_CLSE, 0, arg0)
                return
            stream = Stream(self, local, arg0)
            self.streams[local] = stream
            self.send(A_OKAY, local, arg0)
            threading.Thread(target=self._run, args=(handler, stream, dest), daemon=True).start()
        elif cmd == A_OKAY:
            stream = self.streams.get(arg1)
            if stream:
                stream.acked.set()
        elif cmd == A_WRTE:
            stream = self.streams.get(arg1)
            if stream:
                stream.feed(data)
                self.send(A_OKAY, arg1, arg0)
        elif cmd == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream:
                stream.closed.set()
                with stream.cond:
                    stream.cond.notify_all()
        # AUTH / STLS: never requested by us, so never answered

    def _run(self, handler, stream: Stream, dest: str) -> None:
        try:
            handler(stream, dest)
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass


class FakeDevice:
    """The device: its banner, its sandbox and its services."""

    def __init__(self, sandbox: Path, model: str):
        self.root = sandbox.resolve()
        self.model = model
        make_sandbox(self.root, model)

    def banner(self) -> bytes:
        return (f"device::ro.product.name=panther;ro.product.model={self.model};ro.product.device=panther;"
                f"features={FEATURES}").encode()

    def service(self, dest: str):
        if dest.startswith("shell"):
            return self.shell
        if dest.startswith("exec:"):
            return self.shell
        if dest.startswith("sync:"):
            return self.sync
        return None

    # -- paths ------------------------------------------------------------------------------------
    def local(self, device_path: str) -> Path:
        p = os.path.normpath("/" + device_path.lstrip("/"))
        return self.root / p.lstrip("/")

    def rewrite(self, command: str) -> str:
        return _DEVICE_PATH.sub(lambda m: str(self.root) + m.group(1), command)

    # -- shell ------------------------------------------------------------------------------------
    def shell(self, stream: Stream, dest: str) -> None:
        service, _, command = dest.partition(":")
        v2 = "v2" in service.split(",")[1:] and not dest.startswith("exec:")
        env = {"PATH": f"{self.root}/system/bin:/usr/local/bin:/usr/bin:/bin", "FAKE_ROOT": str(self.root),
               "HOME": str(self.root / "data/local/tmp"), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(["sh", "-c", self.rewrite(command or "true")], cwd=self.root, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE if v2 else subprocess.STDOUT, start_new_session=True)

        def packet(kind: int, payload: bytes) -> bytes:
            return struct.pack("<BI", kind, len(payload)) + payload if v2 else payload

        lock = threading.Lock()

        def pump(pipe, kind):
            for chunk in iter(lambda: pipe.read1(32768), b""):
                with lock:
                    if not stream.write(packet(kind, chunk)):
                        break

        def feed_stdin():
            buf = b""
            while True:
                data = stream.read()
                if data is None:
                    break
                if not v2:
                    proc.stdin.write(data)
                    proc.stdin.flush()
                    continue
                buf += data
                while len(buf) >= 5:
                    kind, n = struct.unpack("<BI", buf[:5])
                    if len(buf) < 5 + n:
                        break
                    payload, buf = buf[5:5 + n], buf[5 + n:]
                    try:
                        if kind == ID_STDIN:
                            proc.stdin.write(payload)
                            proc.stdin.flush()
                        elif kind == ID_CLOSE_STDIN:
                            proc.stdin.close()
                    except (BrokenPipeError, ValueError):
                        pass
            if stream.closed.is_set() and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the host went away: so does the command

        pumps = [threading.Thread(target=pump, args=(proc.stdout, ID_STDOUT), daemon=True)]
        if v2:
            pumps.append(threading.Thread(target=pump, args=(proc.stderr, ID_STDERR), daemon=True))
        threading.Thread(target=feed_stdin, daemon=True).start()
        for t in pumps:
            t.start()
        for t in pumps:
            t.join()
        code = proc.wait()
        if v2:
            stream.write(packet(ID_EXIT, bytes([code & 0xFF])))

    # -- sync -------------------------------------------------------------------------------------
    def _quota_left(self) -> int | None:
        quota = self.root / ".fake" / "quota_bytes"
        if not quota.exists():
            return None
        used = sum(f.stat().st_size for f in (self.root / "data").rglob("*") if f.is_file())
        return int(quota.read_text().strip()) - used

    def sync(self, stream: Stream, dest: str) -> None:
        buf = bytearray()

        def need(n: int) -> bytes | None:
            while len(buf) < n:
                data = stream.read()
                if data is None:
                    return None
                buf.extend(data)
            out = bytes(buf[:n])
            del buf[:n]
            return out

        def fail(msg: str) -> None:
            stream.write(b"FAIL" + struct.pack("<I", len(msg)) + msg.encode())

        while True:
            head = need(8)
            if head is None:
                return
            ident, length = head[:4], struct.unpack("<I", head[4:])[0]
            if ident == b"QUIT":
                return
            arg = need(length)
            if arg is None:
                return
            path = arg.decode(errors="replace")
            if ident in (b"STAT", b"STA2", b"LST2"):
                self._stat(stream, ident, path)
            elif ident in (b"LIST", b"LIS2"):
                self._list(stream, ident, path)
            elif ident == b"RECV":
                local = self.local(path)
                if not local.is_file():
                    fail(f"remote object '{path}' does not exist")
                    continue
                with open(local, "rb") as fh:
                    for chunk in iter(lambda: fh.read(SYNC_DATA_MAX), b""):
                        stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                stream.write(b"DONE" + struct.pack("<I", 0))
            elif ident == b"SEND":
                device_path, _, mode = path.rpartition(",")
                local = self.local(device_path)
                data = bytearray()
                while True:
                    h = need(8)
                    if h is None:
                        return
                    kind, n = h[:4], struct.unpack("<I", h[4:])[0]
                    if kind == b"DATA":
                        chunk = need(n)
                        if chunk is None:
                            return
                        data += chunk
                    elif kind == b"DONE":
                        break
                    else:
                        fail(f"unexpected {kind!r} in SEND")
                        return
                left = self._quota_left()
                if left is not None and len(data) > left:
                    fail(f"write failed: No space left on device")
                    continue
                try:
                    local.parent.mkdir(parents=True, exist_ok=True)
                    local.write_bytes(bytes(data))
                    local.chmod(int(mode) & 0o777 if mode.isdigit() else 0o644)
                except OSError as exc:
                    fail(f"couldn't create file: {exc.strerror}")
                    continue
                stream.write(b"OKAY" + struct.pack("<I", 0))
            else:
                fail(f"unknown sync request {ident!r}")
                return

    def _stat(self, stream: Stream, ident: bytes, path: str) -> None:
        local = self.local(path)
        try:
            st = local.stat() if ident == b"STA2" else os.lstat(local)
        except OSError as exc:
            if ident == b"STAT":
                stream.write(b"STAT" + struct.pack("<III", 0, 0, 0))
            else:
                stream.write(ident + struct.pack("<IQQIIIIQqqq", exc.errno or 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            return
        if ident == b"STAT":
            stream.write(b"STAT" + struct.pack("<III", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
        else:
            stream.write(ident + struct.pack("<IQQIIIIQqqq", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink,
                                             2000, 2000, st.st_size, int(st.st_atime), int(st.st_mtime),
                                             int(st.st_ctime)))

    def _list(self, stream: Stream, ident: bytes, path: str) -> None:
        local = self.local(path)
        names = [".", ".."] + (sorted(os.listdir(local)) if local.is_dir() else [])
        out = bytearray()
        for name in names:
            try:
                st = os.lstat(local / name)
            except OSError:
                continue
            raw = name.encode()
            if ident == b"LIST":
                out += b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(raw)) + raw
            else:
                out += b"DNT2" + struct.pack("<IQQIIIIQqqqI", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, 2000,
                                             2000, st.st_size, int(st.st_atime), int(st.st_mtime), int(st.st_ctime),
                                             len(raw)) + raw
        if ident == b"LIST":
            out += b"DONE" + struct.pack("<IIII", 0, 0, 0, 0)
        else:
            out += b"DONE" + struct.pack("<IQQIIIIQqqqI", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        stream.write(bytes(out))


def serve(port: int, sandbox: Path, model: str) -> None:
    """Accept adb server connections on 127.0.0.1:port until killed."""
    device = FakeDevice(sandbox, model)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        sock, _ = srv.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=Connection(sock, device).serve, daemon=True).start()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sandbox", type=Path, required=True)
    ap.add_argument("--model", default="Pixel 7")
    args = ap.parse_args()
    serve(args.port, args.sandbox, args.model)


if __name__ == "__main__":
    main()
