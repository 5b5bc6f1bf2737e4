"""Real Content Credentials for the simulator's pictures, signed by a throwaway test CA.

Google signs every picture its image models make with a C2PA manifest; a client must keep
it valid, which means keeping the file's bytes. To test that for real, the simulator signs
its Pro JPEGs with the C2PA project's own library (``c2pa-python``) when it is installed:
a manifest with Google's claim generator name, the ``c2pa.created`` action and IPTC's
``trainedAlgorithmicMedia`` source type, signed with ES256 by a certificate whose
organisation is "Google LLC" under a CA made in this process. A C2PA reader finds it
*valid* (signature and hash binding hold) but not *trusted* (the CA is nobody's). Without
the library, ``sign`` returns ``None`` and the caller sends its unsigned stand-in.
"""

from __future__ import annotations

import datetime
import io
import json
from functools import cache

GENERATOR = "Google C2PA Core Generator Library"
ISSUER = "Google LLC"
AI_MADE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_MANIFEST = {
    "claim_generator_info": [{"name": GENERATOR, "version": "simulated"}],
    "assertions": [
        {
            "label": "c2pa.actions.v2",
            "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": AI_MADE}]},
        }
    ],
}


def available() -> bool:
    """Whether real manifests can be made here (``c2pa-python`` is installed)."""
    try:
        import c2pa  # noqa: F401  (an optional extra: tests and the demo install it)
    except ImportError:
        return False
    return True


def sign(picture: bytes, mime_type: str) -> bytes | None:
    """``picture`` with a signed C2PA manifest embedded, or ``None`` without the library."""
    if not available():
        return None
    import c2pa

    builder = c2pa.Builder.from_json(_MANIFEST, _context())
    signed = io.BytesIO()
    builder.sign(_signer(), mime_type, io.BytesIO(picture), signed)
    return signed.getvalue()


@cache
def _context():
    """No thumbnail in the manifest: Google's (5,990 bytes in a recorded Pro reply) has none."""
    import c2pa

    return c2pa.Context.from_json(json.dumps({"builder": {"thumbnail": {"enabled": False}}}))


@cache
def _signer():
    """One ES256 signer per process: a CA and a leaf whose organisation is Google's name."""
    import c2pa

    chain, key = _test_chain()
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))


def _test_chain() -> tuple[bytes, bytes]:
    """A CA and a signing certificate made now (PEM chain, PEM key): nobody trusts them,
    which is the point; a real manifest's signature is checked the same way."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER),
                          x509.NameAttribute(NameOID.COMMON_NAME, common)])  # fmt: skip

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("nb_banana simulator test CA"))
        .issuer_name(name("nb_banana simulator test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(signs_certificates=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(name("nb_banana simulator C2PA signer"))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    return chain, private


def _usage(*, signs_certificates: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not signs_certificates, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=signs_certificates, crl_sign=signs_certificates,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
