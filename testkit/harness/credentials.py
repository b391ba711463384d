"""Key material for the harness: a throwaway CA with server and client certificates for the
TLS engine, and the host key, user key and sshd_config for the ssh one."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from pathlib import Path


def write_tls(tls_dir: Path) -> None:
    """A CA, a server cert for 127.0.0.1/localhost and a client cert, all signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tls_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("syncd-test-ca"))
        .issuer_name(name("syncd-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]) -> tuple:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server_cert = leaf(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key, client_cert = leaf("syncd-test-client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pem = serialization.Encoding.PEM
    (tls_dir / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tls_dir / "server-cert.pem").write_bytes(server_cert.public_bytes(pem))
    (tls_dir / "client-cert.pem").write_bytes(client_cert.public_bytes(pem))
    for filename, key in (("server-key.pem", server_key), ("client-key.pem", client_key)):
        path = tls_dir / filename
        path.write_bytes(key_pem(key))
        path.chmod(0o600)


def write_ssh(ssh_dir: Path, port: int, docker_socket: Path) -> Path:
    """Host key, user key, authorized_keys, known_hosts and an sshd_config; returns the config."""
    ssh_dir.mkdir(parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    for key_name in ("host_ed25519", "id_ed25519"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"syncd-test-{key_name}", "-f"]
            + [str(ssh_dir / key_name)],
            check=True,
        )
    (ssh_dir / "authorized_keys").write_text((ssh_dir / "id_ed25519.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    host_pub = (ssh_dir / "host_ed25519.pub").read_text().split()
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = ssh_dir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {ssh_dir / 'host_ed25519'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                # DIR usually lives under /tmp (world-writable), which StrictModes refuses.
                "StrictModes no",
                "UsePAM no",
                f"AuthorizedKeysFile {ssh_dir / 'authorized_keys'}",
                f"PidFile {ssh_dir / 'sshd.pid'}",
                f"SetEnv DOCKER_HOST=unix://{docker_socket}",
                # sshd's default MaxSessions (10 channels per connection) stays: as on a real node
                "MaxStartups 100:30:200",
                "LogLevel INFO",
                "",
            ]
        )
    )
    return config
