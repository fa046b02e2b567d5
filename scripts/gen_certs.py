#!/usr/bin/env python3
"""Generate N certificates for the benchmarks: one CA, N leaves (one shared key).

usage: gen_certs.py N DIR [--lifetime-days D] [--max-age-days A]

Leaves live D days (default 90) and were issued up to A days ago (default 20),
so with the defaults every one is healthy (not yet at its renewal point).
"""
import argparse
import datetime as dt
import os
import random

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--lifetime-days", type=float, default=90)
    ap.add_argument("--max-age-days", type=float, default=20)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rng = random.Random(42)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evergreen Bench CA")])
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_pub = leaf_key.public_key()
    for i in range(a.n):
        nb = now - dt.timedelta(days=rng.uniform(0, a.max_age_days))
        na = nb + dt.timedelta(days=a.lifetime_days)
        cn = f"host-{i:05d}.bench.invalid"
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(leaf_pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        with open(os.path.join(a.dir, f"cert-{i:05d}.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    main()
