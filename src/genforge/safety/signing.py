"""The key and certificate chain that sign genforge's C2PA manifests.

On first use genforge makes a local certificate authority and a signing certificate under
$GENFORGE_CONFIG/c2pa (default ~/.config/genforge/c2pa): an EC P-256 key, a leaf certificate with the
key usage and extended key usage C2PA validators ask of a signer, and the CA that issued it. A user's
own key and chain (PEM, leaf first) replace them with $GENFORGE_C2PA_KEY and $GENFORGE_C2PA_CERT.

What a self-signed chain proves: that the file has not changed since the holder of this key signed it, and
what the signer said about it (run, data, seed). It does not prove who the signer is: no public trust list
holds the local CA, so C2PA readers report the manifest as valid but not trusted.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import ConfigError
from ..io import atomic_write

YEARS = 10  # the local chain's lifetime
KEY, CHAIN = "signer.key", "chain.pem"


def config_dir() -> Path:
    """genforge's per-user config folder ($GENFORGE_CONFIG, default ~/.config/genforge)."""
    return Path(os.environ.get("GENFORGE_CONFIG", Path.home() / ".config" / "genforge"))


@dataclass(frozen=True)
class Credentials:
    """Paths of a PEM private key and its certificate chain (signing certificate first)."""

    key: Path
    chain: Path

    @property
    def own(self) -> bool:
        """Whether they are the user's (named by the environment) rather than made by genforge."""
        return "GENFORGE_C2PA_KEY" in os.environ


def credentials() -> Credentials:
    """The user's key and chain if named by the environment, else the local ones (made on first use)."""
    key, cert = os.environ.get("GENFORGE_C2PA_KEY"), os.environ.get("GENFORGE_C2PA_CERT")
    if bool(key) != bool(cert):
        raise ConfigError("set both GENFORGE_C2PA_KEY (a PEM private key) and GENFORGE_C2PA_CERT (its chain), or none")
    if key:
        for name, p in (("GENFORGE_C2PA_KEY", key), ("GENFORGE_C2PA_CERT", cert)):
            if not Path(p).is_file():
                raise ConfigError(f"{name}={p}: no such file (expected PEM)")
        return Credentials(Path(key), Path(cert))
    folder = config_dir() / "c2pa"
    if not folder.is_dir():
        _make_folder(folder)
    return Credentials(folder / KEY, folder / CHAIN)


def _make_folder(folder: Path) -> None:
    """Make the local chain in a private temporary folder, then rename it into place: processes that start at
    once (test workers, tuning workers) all end up with the one pair that won the rename."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".c2pa-"))
    try:
        make_local_chain(Credentials(tmp / KEY, tmp / CHAIN))
        os.rename(tmp, folder)
    except OSError:
        if not folder.is_dir():  # not a lost race: a real failure
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _name(common: str):
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "genforge (local)")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common), org])


def _usage(sign: bool):
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not sign, crl_sign=not sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def make_local_chain(creds: Credentials) -> None:
    """A local CA and a signing certificate it issued, with the signing key, written to `creds` (key 0600)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    until = now + datetime.timedelta(days=365 * YEARS)

    def cert(subject, issuer, public, signer_key, ca: bool, extra=()):
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
            .add_extension(_usage(sign=not ca), critical=True)
        )
        for ext in extra:
            b = b.add_extension(ext, critical=False)
        return b.sign(signer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert(_name("genforge local CA"), _name("genforge local CA"), ca_key.public_key(), ca_key, True,
              [x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())])  # fmt: skip
    leaf = cert(_name("genforge signer"), ca.subject, key.public_key(), ca_key, False,
                [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                 x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())])  # fmt: skip
    pem = serialization.Encoding.PEM
    atomic_write(creds.chain, leaf.public_bytes(pem) + ca.public_bytes(pem))
    atomic_write(creds.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(creds.key, 0o600)


def _algorithm(key_pem: bytes):
    """The C2PA signing algorithm that fits a PEM private key."""
    key = load_pem_private_key(key_pem, None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    if isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: c2pa.C2paSigningAlg.ES256, 384: c2pa.C2paSigningAlg.ES384}.get(
            key.curve.key_size, c2pa.C2paSigningAlg.ES512
        )
    raise ConfigError(f"unsupported signing key type {type(key).__name__} (expected EC, Ed25519 or RSA)")


@lru_cache(maxsize=4)
def _signer(key: Path, chain: Path, stamp: float):
    key_pem = key.read_bytes()
    try:
        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(_algorithm(key_pem), chain.read_bytes(), key_pem, None))
    except (c2pa.C2paError, ValueError) as e:
        raise ConfigError(f"{key} / {chain}: not a usable C2PA signing key and chain ({e})") from None


def signer():
    """A c2pa Signer of the current credentials (one per key file and its modification time)."""
    creds = credentials()
    return _signer(creds.key, creds.chain, creds.key.stat().st_mtime)
