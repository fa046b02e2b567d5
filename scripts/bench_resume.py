#!/usr/bin/env python3
"""Offline and back: how long after a wake-up, and after the network returns,
the renewal that was waiting starts. Runs the release `evergreen run`, reads
its JSON event stream and times, on this machine's monotonic clock:

- resume without logind: the engine under libfaketime; the wall clock moves
  5 h ahead while the monotonic clock does not (what a suspend looks like to
  a process) and the certificate is then due;
- network up: the engine in a network namespace joined by a veth pair; the
  renewal needs a TCP server outside, fails while the link is down (offline),
  and the link comes back up.

usage: bench_resume.py EVERGREEN_BIN RUNS   (prints one JSON object)
"""
import glob
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN, RUNS = sys.argv[1], int(sys.argv[2])


def engine(d, config, wrapper=(), extra_env=None):
    env = dict(os.environ, EVERGREEN_CONFIG=f"{d}/config.toml", EVERGREEN_DATA_DIR=f"{d}/data",
               EVERGREEN_RUNTIME_DIR=f"{d}/run", **(extra_env or {}))
    env.pop("EVERGREEN_LOG", None)
    with open(f"{d}/config.toml", "w") as f:
        f.write(config)
    os.chmod(f"{d}/config.toml", 0o600)
    return subprocess.Popen([*wrapper, BIN, "run", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def until(p, pred, limit=60):
    if not hasattr(p, "lines"):
        p.lines = queue.Queue()
        threading.Thread(target=lambda: [p.lines.put(line) for line in p.stdout], daemon=True).start()
    deadline = time.monotonic() + limit
    while True:
        try:
            line = p.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise SystemExit(f"no such event within {limit} s")
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if pred(e):
            return e


def stop(p):
    p.terminate()
    p.wait(20)


def cert(d, lifetime):
    if not os.path.exists(f"{d}/certs/demo-ca.pem"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", f"{d}/certs/demo-ca.key", "-out", f"{d}/certs/demo-ca.pem", "-days", "2",
                        "-subj", "/CN=bench CA"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([BIN, "demo-renew", "--dir", f"{d}/certs", "--name", "web", "--lifetime", lifetime],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def renewing(d, lifetime, command=None, extra=""):
    cmd = command or json.dumps([BIN, "demo-renew", "--dir", f"{d}/certs", "--name", "web", "--lifetime", lifetime])
    return f'[[credential]]\nname = "web"\nkind = "x509_file"\npath = "{d}/certs/web.pem"\nrenew_command = {cmd}\n{extra}\n'


def resume_without_logind():
    lib = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")[0]
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/certs")
        cert(d, "6h")
        offset = f"{d}/offset"
        open(offset, "w").write("+0")
        p = engine(d, renewing(d, "6h"), extra_env={
            "LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": offset, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        try:
            until(p, lambda e: e.get("event") == "observed")
            time.sleep(0.5)
            # Past the renewal point of a fresh 6 h certificate (4 h, ±10 % jitter).
            open(offset, "w").write("+5h")
            t0 = time.monotonic()
            until(p, lambda e: e.get("event") == "renewal_started")
            return time.monotonic() - t0
        finally:
            stop(p)


def ip(*args):
    subprocess.run(["ip", *args], check=True)


def network_up(n):
    ns, out, inside, host = f"evergreen-bench{n}", f"egb{n}o", f"egb{n}i", f"10.78.{n}.1"
    ip("netns", "add", ns)
    try:
        ip("link", "add", out, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", ns)
        ip("addr", "add", f"{host}/24", "dev", out)
        ip("link", "set", out, "up")
        ip("netns", "exec", ns, "ip", "addr", "add", f"10.78.{n}.2/24", "dev", inside)
        ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        ip("netns", "exec", ns, "ip", "link", "set", inside, "up")
        server = socket.create_server((host, 0))
        port = server.getsockname()[1]
        threading.Thread(target=lambda: [server.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(f"{d}/certs")
            cert(d, "60s")
            reach = f"python3 -c 'import socket; socket.create_connection((\\\"{host}\\\", {port}), 2).close()'"
            shell = f'"{reach} && {BIN} demo-renew --dir {d}/certs --name web --lifetime 60s"'
            p = engine(d, renewing(d, "60s", shell, 'shell = true\nrenew_before = "50s"'),
                       wrapper=("ip", "netns", "exec", ns))
            try:
                until(p, lambda e: e.get("event") == "observed")
                ip("netns", "exec", ns, "ip", "link", "set", inside, "down")
                until(p, lambda e: e.get("event") == "renewal_failed" and e.get("offline"))
                ip("netns", "exec", ns, "ip", "link", "set", inside, "up")
                t0 = time.monotonic()
                until(p, lambda e: e.get("event") == "renewal_started")
                return time.monotonic() - t0
            finally:
                stop(p)
    finally:
        subprocess.run(["ip", "link", "del", out], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


resume = [resume_without_logind() for _ in range(RUNS)]
net = [network_up(i + 1) for i in range(RUNS)]
print(json.dumps({"resume": resume, "network": net,
                  "resume_median": statistics.median(resume), "network_median": statistics.median(net)}))
