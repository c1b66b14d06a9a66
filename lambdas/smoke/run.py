#!/usr/bin/env python3
"""Smoke test of a packaged bootstrap: start it under a loopback Lambda Runtime API and check
its answers. An AArch64 bootstrap on a non-AArch64 host runs under qemu-user
(`qemu-aarch64 -L /usr/aarch64-linux-gnu`, Debian `qemu-user` + `libc6-arm64-cross`).

    lambdas/smoke/run.py [--out OUT_DIR [--env ENV]] [--install] [--timeout S] [--verbose]
                         ZIP [FUNCTION]

FUNCTION defaults to the folder holding ZIP (target/lambda/<arch>/<function>/bootstrap.zip).
With --out, the function and its environment come from synth's output: the first environment
(ENV: dev, staging, prod or all, default all) whose manifest names ZIP gives the asset, and the
AWS::Lambda::Function of OUT_DIR/<env>/sre-pipeline.template.json with the asset's S3Key gives
`Environment.Variables` (an intrinsic such as {"Ref": ...} becomes a placeholder string) and
`MemorySize`; so a variable the binary requires and the template does not set fails the smoke
test at init. Without --out, a built-in set of variables is used.
`bootstrap` is extracted from ZIP (so the zip's own mode and contents are what runs) and started
with AWS_LAMBDA_RUNTIME_API pointing at a loopback stand-in of the Runtime API, dummy
credentials, and AWS_ENDPOINT_URL at a loopback HTTPS stand-in of the AWS APIs the functions
call (a throwaway CA made with `openssl`, trusted through SSL_CERT_FILE): nothing leaves the
machine. The Runtime API stand-in serves these invocations on
`GET /2018-06-01/runtime/invocation/next`, one after the other, and records each
`POST .../response` or `.../error`:

  alert_ingest    1. API Gateway proxy event `GET /webhook/alertmanager` -> statusCode 405
                     (answered before the token is read: no AWS call)
                  2. `POST` with a wrong bearer token -> 401: the token comes from the stand-in's
                     Secrets Manager GetSecretValue (TLS, SigV4, the SDK's JSON protocol)
                  3. `POST` with the right token and a one-alert Alertmanager webhook -> 202,
                     and the stand-in's EventBridge PutEvents got the event for EVENT_BUS_NAME
  runbook_action  1. a dry-run `restart_deployment` ActionRequest -> outcome `dry_run`
  approval        1. API Gateway proxy event `GET /approvals/{incident_id}` with a malformed
                     token -> statusCode 400, after the signing key is read from the stand-in's
                     Secrets Manager
                  2. `POST` of the form with a forged token -> 403

Every AWS request must be SigV4-signed with the dummy key.
The process is started and stopped by its PID (SIGTERM, then SIGKILL after 5 s), the whole run
bounded by --timeout (default 120 s). Exits 1 with the process's log on any wrong or missing
answer, an init error, or an early exit. --install installs qemu-user and libc6-arm64-cross
with apt-get when they are needed and missing.
"""
import argparse
import http.server
import json
import os
import platform
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from assets import (AssetError, architecture_of_machine, elf_machine,  # noqa: E402
                    environments, load, machine_name)

API = "/2018-06-01/runtime"
QEMU_ROOT = "/usr/aarch64-linux-gnu"
QEMU_PACKAGES = ["qemu-user", "libc6-arm64-cross"]


def apigw_event(method: str, headers: dict, body) -> dict:
    return {
        "resource": "/webhook/{source}",
        "path": "/webhook/alertmanager",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"source": "alertmanager"},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "r", "stage": "prod", "requestId": "smoke",
            "identity": {"sourceIp": "127.0.0.1"}, "resourcePath": "/webhook/{source}",
            "httpMethod": method, "apiId": "api", "path": "/prod/webhook/alertmanager",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def status_is(expected: int):
    def check(kind: str, body: bytes):
        if kind != "response":
            return f"expected a response with statusCode {expected}, got /{kind}: {body[:300]!r}"
        got = json.loads(body).get("statusCode")
        return None if got == expected else f"expected statusCode {expected}, got {got}: {body[:300]!r}"
    return check


def outcome_is(expected: str):
    def check(kind: str, body: bytes):
        if kind != "response":
            return f"expected a response with outcome {expected}, got /{kind}: {body[:300]!r}"
        got = json.loads(body).get("outcome")
        return None if got == expected else f"expected outcome {expected}, got {got}: {body[:300]!r}"
    return check


ALERTMANAGER_BODY = json.dumps({
    "version": "4", "groupKey": "{}:{alertname=\"Smoke\"}", "truncatedAlerts": 0, "status": "firing",
    "receiver": "sre-platform", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
    "externalURL": "http://alertmanager", "alerts": [{
        "status": "firing", "labels": {"alertname": "Smoke"}, "annotations": {},
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus", "fingerprint": "0123456789abcdef"}],
})

TOKEN = "smoke-webhook-token"
ACCESS_KEY = "AKIDSMOKETEST"


def calls_to(target: str, at_least: int = 1):
    """The AWS stand-in got at least N calls of this X-Amz-Target."""
    def check(calls: list, env: dict):
        n = sum(1 for c in calls if c["target"] == target)
        return None if n >= at_least else f"expected {at_least}+ {target} call(s), got {n}"
    return check


def approval_event(method: str, query, body) -> dict:
    return {
        "resource": "/approvals/{incident_id}",
        "path": "/approvals/inc-smoke",
        "httpMethod": method,
        "headers": {"content-type": "application/x-www-form-urlencoded"} if body else {},
        "queryStringParameters": query,
        "pathParameters": {"incident_id": "inc-smoke"},
        "requestContext": {"identity": {"sourceIp": "127.0.0.1"}, "httpMethod": method},
        "body": body,
        "isBase64Encoded": False,
    }


def events_put_on_bus(calls: list, env: dict):
    bus = env.get("EVENT_BUS_NAME")
    entries = [e for c in calls if c["target"] == "AWSEvents.PutEvents" for e in c["body"].get("Entries", [])]
    if not entries:
        return "no event reached PutEvents"
    wrong = [e.get("EventBusName") for e in entries if e.get("EventBusName") != bus]
    return f"events put on {wrong}, expected {bus}" if wrong else None


SCENARIOS = {
    "alert_ingest": {
        "env": {"EVENT_BUS_NAME": "sre-smoke-events",
                "WEBHOOK_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sre-smoke-token"},
        "invocations": [
            ("GET -> 405, before any AWS call", apigw_event("GET", {}, None), status_is(405)),
            ("POST, wrong token (read from Secrets Manager) -> 401",
             apigw_event("POST", {"authorization": "Bearer wrong", "content-type": "application/json"},
                         ALERTMANAGER_BODY),
             status_is(401)),
            ("POST, right token, one alert -> 202 (PutEvents)",
             apigw_event("POST", {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
                         ALERTMANAGER_BODY),
             status_is(202)),
        ],
        "aws": [("the token read from Secrets Manager", calls_to("secretsmanager.GetSecretValue")),
                ("the event put on the bus", events_put_on_bus)],
    },
    "runbook_action": {
        "env": {"EKS_CLUSTER_NAME": "sre-smoke", "EKS_CLUSTER_ENDPOINT": "https://127.0.0.1:1",
                "INCIDENTS_TABLE": "sre-smoke-incidents", "ALLOWED_NAMESPACES": "apps",
                "DRAIN_TIMEOUT_SECONDS": "45",
                "DRAIN_NODE_SELECTOR": "eks.amazonaws.com/nodegroup=smoke", "MAX_CORDONED_NODES": "1"},
        "invocations": [
            ("dry-run restart_deployment -> outcome dry_run",
             {"incident_id": "inc-smoke", "action": "restart_deployment",
              "target": {"namespace": "apps", "name": "checkout"}, "dry_run": True},
             outcome_is("dry_run")),
        ],
        "aws": [],
    },
    "approval": {
        "env": {"INCIDENTS_TABLE": "sre-smoke-incidents",
                "SIGNING_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sre-smoke-key",
                "NOTIFICATIONS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:sre-smoke",
                "EVENT_BUS_NAME": "sre-smoke-events", "PUBLIC_URL": "https://alerts.smoke.example"},
        "invocations": [
            ("GET, malformed token -> 400 (the key read from Secrets Manager)",
             approval_event("GET", {"token": "garbage"}, None), status_is(400)),
            ("POST, forged token -> 403",
             approval_event("POST", None, "token=eyJpIjoiaW5jLXNtb2tlIn0.c2lnbmF0dXJl&by=smoke"),
             status_is(403)),
        ],
        "aws": [("the signing key read from Secrets Manager", calls_to("secretsmanager.GetSecretValue"))],
    },
}


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Connections drop when the process is stopped: expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class FakeAws(QuietServer):
    """HTTPS stand-in for the JSON-protocol AWS calls the functions make; records each call."""

    def __init__(self, cert: str, key: str):
        super().__init__(("127.0.0.1", 0), AwsHandler)
        self.calls = []
        self.lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)


class AwsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeAws

    def log_message(self, *_):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with self.server.lock:
            self.server.calls.append({"target": target, "body": body,
                                      "authorization": self.headers.get("Authorization", "")})
        if target == "secretsmanager.GetSecretValue":
            status, answer = 200, {"ARN": body.get("SecretId", ""), "Name": "smoke", "VersionId": "v1",
                                   "SecretString": TOKEN}
        elif target == "AmazonSSM.GetParameter":
            status, answer = 200, {"Parameter": {"Name": body.get("Name", ""), "Type": "SecureString",
                                                 "Value": TOKEN, "Version": 1}}
        elif target == "AWSEvents.PutEvents":
            entries = body.get("Entries", [])
            status, answer = 200, {"FailedEntryCount": 0,
                                   "Entries": [{"EventId": f"smoke-{i}"} for i in range(len(entries))]}
        else:
            status, answer = 400, {"__type": "UnknownOperationException", "message": f"smoke: {target}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "smoke")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_certificates(work: str):
    """A throwaway CA and a certificate for 127.0.0.1 it signs (webpki refuses a CA as leaf)."""
    if shutil.which("openssl") is None:
        raise AssetError("the smoke test needs the openssl command (Debian package openssl)")
    run = lambda *a: subprocess.run(["openssl", *a], cwd=work, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=lambda smoke CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "aws.key", "-out", "aws.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(work, "aws.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n")
    run("x509", "-req", "-in", "aws.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "aws.pem", "-days", "2", "-extfile", "aws.ext")
    return (os.path.join(work, n) for n in ("ca.pem", "aws.pem", "aws.key"))


class RuntimeApi(QuietServer):
    def __init__(self, events: list):
        super().__init__(("127.0.0.1", 0), Handler)
        self.pending = list(events)  # [(request id, payload bytes)]
        self.answers = {}  # request id -> (kind, body, time)
        self.init_error = None
        self.first_next = None
        self.changed = threading.Condition()
        self.stopping = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeApi

    def log_message(self, *_):
        pass

    def reply(self, status: int, body: bytes = b"{}", headers: dict = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != f"{API}/invocation/next":
            return self.reply(404)
        s = self.server
        with s.changed:
            s.first_next = s.first_next or time.monotonic()
            event = s.pending.pop(0) if s.pending else None
        if event is None:
            s.stopping.wait(300)  # no more events: keep the runtime waiting, as Lambda does
            return
        request_id, payload = event
        self.reply(200, payload, {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 300_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:smoke",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
        })

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path[len(API):].strip("/").split("/")
        s = self.server
        with s.changed:
            if parts == ["init", "error"]:
                s.init_error = body
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                s.answers[parts[1]] = (parts[2], body, time.monotonic())
            else:
                return self.reply(404)
            s.changed.notify_all()
        self.reply(202)


def from_synth(out_dir: str, selection: str, zip_path: str):
    """(env, function, variables, memory) of the first environment whose manifest names ZIP."""
    wanted = os.path.realpath(zip_path)
    for env in environments(selection):
        for asset in load(out_dir, env):
            if os.path.realpath(asset["zip"]) != wanted:
                continue
            path = os.path.join(out_dir, env, "sre-pipeline.template.json")
            with open(path) as f:
                resources = json.load(f).get("Resources") or {}
            for logical_id, r in resources.items():
                props = r.get("Properties") or {}
                if r.get("Type") == "AWS::Lambda::Function" and \
                        (props.get("Code") or {}).get("S3Key") == asset["s3_key"]:
                    variables = {
                        k: v if isinstance(v, str) else f"smoke-{k.lower().replace('_', '-')}"
                        for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
                    }
                    memory = props.get("MemorySize")
                    return env, asset["function"], logical_id, variables, str(memory if isinstance(memory, int) else 128)
            raise AssetError(f"{path}: no AWS::Lambda::Function has Code.S3Key {asset['s3_key']}")
    raise AssetError(f"no {out_dir}/<env>/manifest.json ({selection}) names {zip_path}")


def qemu_ready() -> bool:
    return shutil.which("qemu-aarch64") is not None and os.path.exists(
        os.path.join(QEMU_ROOT, "lib", "ld-linux-aarch64.so.1"))


def install_qemu():
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    cmd = sudo + ["apt-get", "install", "-y", "--no-install-recommends", *QEMU_PACKAGES]
    print(f"smoke: installing {' '.join(QEMU_PACKAGES)} (apt-get)", flush=True)
    if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(sudo + ["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip")
    parser.add_argument("function", nargs="?")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--install", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out", help="synth's output folder: take the function's variables from its template")
    parser.add_argument("--env", default="all")
    args = parser.parse_args()
    function = args.function or os.path.basename(os.path.dirname(os.path.abspath(args.zip)))
    memory = "256"
    if args.out:
        try:
            env_name, function, logical_id, variables, memory = from_synth(args.out, args.env, args.zip)
        except (AssetError, OSError, json.JSONDecodeError) as e:
            print(f"smoke: {e}", file=sys.stderr)
            return 1
        source = f"{args.out}/{env_name} {logical_id}"
    else:
        variables = SCENARIOS.get(function, {}).get("env", {})
        source = "built-in"
    if function not in SCENARIOS:
        print(f"smoke: no scenario for function {function!r} (one of {', '.join(SCENARIOS)})", file=sys.stderr)
        return 1
    scenario = SCENARIOS[function]

    work = tempfile.mkdtemp(prefix="lambda-smoke-")
    try:
        bootstrap = os.path.join(work, "bootstrap")
        try:
            with zipfile.ZipFile(args.zip) as z:
                info = z.getinfo("bootstrap")
                with z.open(info) as src, open(bootstrap, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            os.chmod(bootstrap, (info.external_attr >> 16) & 0o7777)
            with open(bootstrap, "rb") as f:
                machine = elf_machine(f.read(20), f"{args.zip}:bootstrap")
        except (OSError, KeyError, zipfile.BadZipFile, AssetError) as e:
            print(f"smoke: {args.zip}: {e}", file=sys.stderr)
            return 1
        if not os.access(bootstrap, os.X_OK):
            print(f"smoke: {args.zip}: bootstrap is not executable in the zip", file=sys.stderr)
            return 1
        arch = architecture_of_machine(machine)
        host = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}.get(
            platform.machine().lower())
        if arch is None:
            print(f"smoke: {args.zip}: bootstrap is {machine_name(machine)}, not a Lambda architecture", file=sys.stderr)
            return 1
        if arch == host:
            command, runner = [bootstrap], "native"
        elif arch == "arm64":
            if not qemu_ready() and args.install:
                install_qemu()
            if not qemu_ready():
                print("smoke: an AArch64 bootstrap needs qemu-user here: "
                      f"apt-get install -y --no-install-recommends {' '.join(QEMU_PACKAGES)} "
                      "(or pass --install)", file=sys.stderr)
                return 1
            command, runner = ["qemu-aarch64", "-L", QEMU_ROOT, bootstrap], "qemu-aarch64"
        else:
            print(f"smoke: cannot run a {arch} bootstrap on this {platform.machine()} host", file=sys.stderr)
            return 1

        events = [(f"smoke-{i + 1}", json.dumps(payload).encode())
                  for i, (_, payload, _) in enumerate(scenario["invocations"])]
        try:
            ca, cert, key = make_certificates(work)
        except (AssetError, subprocess.CalledProcessError) as e:
            print(f"smoke: cannot make the stand-in's certificate: {getattr(e, 'stderr', None) or e}", file=sys.stderr)
            return 1
        aws = FakeAws(cert, key)
        api = RuntimeApi(events)
        for server in (aws, api):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": work,  # no ~/.aws of the host
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": f"smoke-{function}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "smoke",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/smoke-{function}",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": "smoke-secret",
            "AWS_SESSION_TOKEN": "smoke-session",
            "AWS_ENDPOINT_URL": f"https://127.0.0.1:{aws.server_address[1]}",
            "SSL_CERT_FILE": ca,
            "AWS_EC2_METADATA_DISABLED": "true",
            "RUST_LOG": "info",
        }
        # The function's own variables, then what keeps every call on this machine.
        env = {**env, **variables, **{k: env[k] for k in env if k.startswith("AWS_") or k == "SSL_CERT_FILE"}}
        log_path = os.path.join(work, "bootstrap.log")
        failures = []
        with open(log_path, "wb") as log:
            started = time.monotonic()
            exited = None
            proc = subprocess.Popen(command, env=env, cwd=work, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
            print(f"smoke: {function} [{arch}, {runner}] pid {proc.pid}, variables from {source}: "
                  f"{', '.join(sorted(variables)) or 'none'}", flush=True)
            deadline = started + args.timeout
            try:
                with api.changed:
                    while (len(api.answers) < len(events) and api.init_error is None
                           and proc.poll() is None and time.monotonic() < deadline):
                        api.changed.wait(0.2)
                exited = proc.poll()
            finally:
                stop(proc)
                api.stopping.set()
                api.shutdown()
                aws.shutdown()
            ended = time.monotonic()
        if api.init_error is not None:
            failures.append(f"init error: {api.init_error[:300]!r}")
        elif len(api.answers) < len(events):
            why = (f"the process exited early with status {exited}" if exited is not None
                   else f"timed out after {args.timeout:g} s")
            failures.append(f"{len(api.answers)} of {len(events)} invocations answered: {why}")
        for (request_id, _), (label, _, check) in zip(events, scenario["invocations"]):
            if request_id not in api.answers:
                continue
            kind, body, at = api.answers[request_id]
            problem = check(kind, body)
            print(f"smoke:   {label}: {'ok' if problem is None else 'FAILED'} "
                  f"({at - started:.2f} s after start)")
            if problem:
                failures.append(f"{label}: {problem}")
        if len(api.answers) == len(events):
            for label, check in scenario["aws"]:
                problem = check(aws.calls, env)
                print(f"smoke:   {label}: {'ok' if problem is None else 'FAILED'}")
                if problem:
                    failures.append(f"{label}: {problem}")
        unsigned = [c["target"] for c in aws.calls
                    if not c["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")]
        if unsigned:
            failures.append(f"AWS calls without a SigV4 signature of the dummy key: {unsigned}")
        if aws.calls:
            print(f"smoke:   AWS calls (all SigV4-signed over TLS): "
                  f"{', '.join(sorted(set(c['target'] for c in aws.calls)))}")
        first = min((a[2] for a in api.answers.values()), default=None)
        print(f"smoke: {function} [{arch}]: "
              + (f"first response {first - started:.2f} s after start, " if first else "no response, ")
              + f"stopped after {ended - started:.2f} s")
        with open(log_path, "rb") as f:
            log_text = f.read().decode(errors="replace")
        if failures or args.verbose:
            print("smoke: --- bootstrap log (last 40 lines) ---")
            print("\n".join(log_text.splitlines()[-40:]))
        for f in failures:
            print(f"smoke: error: {function} ({args.zip}): {f}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
