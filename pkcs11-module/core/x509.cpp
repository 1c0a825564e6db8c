#include "core/x509.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/error.h"
#include "core/openssl_ptr.h"

namespace brokerkey {

namespace {

using X509ReqPtr = std::unique_ptr<X509_REQ, OpensslDeleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpensslDeleter<X509_NAME_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>>;

// "CN=a,O=b" -> X509_NAME
X509NamePtr parse_subject(const std::string& subject) {
  X509NamePtr name(X509_NAME_new());
  std::size_t start = 0;
  while (start < subject.size()) {
    std::size_t comma = subject.find(',', start);
    std::string part = subject.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size() ||
        X509_NAME_add_entry_by_txt(name.get(), part.substr(0, eq).c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(part.c_str() + eq + 1), -1,
                                   -1, 0) != 1) {
      throw invalid_input("subject '" + subject + "' is not of the form CN=...,O=...");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (X509_NAME_entry_count(name.get()) == 0) throw invalid_input("empty subject");
  return name;
}

EvpPkeyPtr public_pkey(const PublicKey& key) {
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.raw.data(), key.raw.size()));
  if (!pkey) throw crypto_failed("OpenSSL rejected the public key");
  return pkey;
}

// A throwaway key, only so OpenSSL fills in the Ed25519 AlgorithmIdentifier and encodes the
// to-be-signed part; its signature is discarded and replaced by the broker key's.
EvpPkeyPtr throwaway_key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    throw crypto_failed("cannot generate a placeholder key");
  }
  return EvpPkeyPtr(key);
}

// SEQUENCE { tbs, AlgorithmIdentifier { id-Ed25519 }, BIT STRING signature }
Bytes assemble_signed(ByteView tbs, const Signature& signature) {
  static constexpr std::uint8_t kEd25519Algorithm[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
  Bytes body(tbs.begin(), tbs.end());
  body.insert(body.end(), std::begin(kEd25519Algorithm), std::end(kEd25519Algorithm));
  body.insert(body.end(), {0x03, 0x41, 0x00});
  body.insert(body.end(), signature.begin(), signature.end());
  return der_tlv(0x30, body);
}

}  // namespace

Bytes make_self_signed_certificate(const CertificateRequest& request, const TbsSigner& sign) {
  X509Ptr cert(X509_new());
  X509NamePtr name = parse_subject(request.subject);
  EvpPkeyPtr key = public_pkey(request.key);
  std::uint8_t serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) throw crypto_failed("RAND_bytes failed");
  serial_bytes[0] &= 0x7f;  // positive
  BignumPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1 ||
      !ASN1_TIME_set(X509_getm_notBefore(cert.get()), request.not_before.time_since_epoch().count()) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), request.not_after.time_since_epoch().count()) ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    throw crypto_failed("cannot build the certificate");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_key_usage, "critical,digitalSignature"},
                            {NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!extension || X509_add_ext(cert.get(), extension, -1) != 1) {
      X509_EXTENSION_free(extension);
      throw crypto_failed("cannot add a certificate extension");
    }
    X509_EXTENSION_free(extension);
  }
  EvpPkeyPtr placeholder = throwaway_key();
  if (X509_sign(cert.get(), placeholder.get(), nullptr) <= 0) throw crypto_failed("cannot encode the certificate");
  Bytes tbs = der_encode<i2d_re_X509_tbs>(cert.get());
  Bytes der = assemble_signed(tbs, sign(tbs));

  X509Ptr check = parse_x509(der);
  if (X509_verify(check.get(), key.get()) != 1) {
    throw integrity_failed("the signed certificate does not verify with the broker key");
  }
  return der;
}

std::string make_certificate_request(const CertificateRequest& request, const TbsSigner& sign) {
  X509ReqPtr req(X509_REQ_new());
  X509NamePtr name = parse_subject(request.subject);
  EvpPkeyPtr key = public_pkey(request.key);
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    throw crypto_failed("cannot build the certificate request");
  }
  EvpPkeyPtr placeholder = throwaway_key();
  if (X509_REQ_sign(req.get(), placeholder.get(), nullptr) <= 0) throw crypto_failed("cannot encode the request");
  Bytes tbs = der_encode<i2d_re_X509_REQ_tbs>(req.get());
  Bytes der = assemble_signed(tbs, sign(tbs));
  const unsigned char* p = der.data();
  X509ReqPtr check(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!check || X509_REQ_verify(check.get(), key.get()) != 1) {
    throw integrity_failed("the signed request does not verify with the broker key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), check.get()) != 1) throw crypto_failed("cannot write PEM");
  return memory_bio_text(bio.get());
}

PublicKey certificate_key(const X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  std::size_t length = 32;
  PublicKey out;
  if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, out.raw.data(), &length) != 1 || length != 32) {
    throw integrity_failed("the certificate is not for an Ed25519 key");
  }
  return out;
}

CertificateFields parse_certificate(ByteView der) {
  X509Ptr cert = parse_x509(der);
  CertificateFields fields;
  fields.key = certificate_key(cert.get());
  fields.subject = der_encode<i2d_X509_NAME>(X509_get_subject_name(cert.get()));
  fields.issuer = der_encode<i2d_X509_NAME>(X509_get_issuer_name(cert.get()));
  fields.serial_number = der_encode<i2d_ASN1_INTEGER>(X509_get_serialNumber(cert.get()));
  fields.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  fields.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  return fields;
}

std::string certificate_pem(ByteView der) {
  X509Ptr cert = parse_x509(der);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) throw crypto_failed("cannot write PEM");
  return memory_bio_text(bio.get());
}

}  // namespace brokerkey
