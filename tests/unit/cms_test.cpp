#define BOOST_TEST_MODULE cms
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "core/cms.h"
#include "core/error.h"
#include "core/openssl_ptr.h"
#include "core/x509.h"

using namespace brokerkey;

namespace {

const TimePoint kSignedAt = *parse_rfc3339("2026-11-22T09:09:05Z");

// An in-memory Ed25519 key standing in for the module, and its certificate.
struct TestSigner {
  EvpPkeyPtr key;
  PublicKey public_key;
  Bytes certificate;

  TestSigner() {
    EVP_PKEY* raw = nullptr;
    std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    BOOST_REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1 && EVP_PKEY_keygen(ctx.get(), &raw) == 1);
    key.reset(raw);
    std::size_t length = 32;
    EVP_PKEY_get_raw_public_key(key.get(), public_key.raw.data(), &length);
    certificate = make_self_signed_certificate(
        {"CN=Acme signing,O=Acme", public_key, kSignedAt - Days(1), kSignedAt + Days(30)},
        [this](ByteView data) { return sign(data); });
  }
  Signature sign(ByteView data) const {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    Signature out{};
    std::size_t length = out.size();
    BOOST_REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1);
    BOOST_REQUIRE(EVP_DigestSign(ctx.get(), out.data(), &length, data.data(), data.size()) == 1);
    return out;
  }
  Bytes cms(std::string_view content) const {
    return make_detached_cms(certificate, as_bytes(content), kSignedAt, [this](ByteView data) { return sign(data); });
  }
};

// A CMS OpenSSL signs by itself with an ECDSA key: well-formed, but not what git's x509
// signatures from brokerkey are.
Bytes openssl_ecdsa_cms(std::string_view content, unsigned flags) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, OpensslDeleter<X509_free>> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ecdsa"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  BOOST_REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  BioPtr data(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  std::unique_ptr<CMS_ContentInfo, OpensslDeleter<CMS_ContentInfo_free>> cms(
      CMS_sign(cert.get(), key.get(), nullptr, data.get(), flags | CMS_BINARY));
  BOOST_REQUIRE(cms);
  return der_encode<i2d_CMS_ContentInfo>(cms.get());
}

void expect_rejected(ByteView der, const std::string& reason) {
  try {
    parse_detached_cms(der);
    BOOST_ERROR("accepted a CMS that should fail with: " + reason);
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find(reason) != std::string::npos, e.what());
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_signature_round_trips) {
  TestSigner signer;
  Bytes der = signer.cms("tree 1234\n\nmessage\n");
  CmsSignature parsed = parse_detached_cms(der);
  BOOST_TEST((parsed.key == signer.public_key));
  BOOST_TEST((parsed.certificate == signer.certificate));
  BOOST_TEST(parsed.subject == "O=Acme,CN=Acme signing");
  BOOST_TEST((parsed.signing_time == kSignedAt));
  BOOST_TEST(!cms_signature_fault(parsed, as_bytes("tree 1234\n\nmessage\n")));
}

BOOST_AUTO_TEST_CASE(changed_content_is_a_digest_fault) {
  TestSigner signer;
  CmsSignature parsed = parse_detached_cms(signer.cms("original\n"));
  auto fault = cms_signature_fault(parsed, as_bytes("originaL\n"));
  BOOST_REQUIRE(fault);
  BOOST_TEST(fault->find("digest") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_changed_signature_or_signed_attribute_is_a_signature_fault) {
  TestSigner signer;
  Bytes der = signer.cms("content\n");
  Bytes flipped = der;
  flipped.back() ^= 0x01;  // the signature OCTET STRING ends the DER
  auto fault = cms_signature_fault(parse_detached_cms(flipped), as_bytes("content\n"));
  BOOST_REQUIRE(fault);
  BOOST_TEST(fault->find("Ed25519 signature") != std::string::npos);

  // The signingTime is covered by the signature: a different (still valid) time fails.
  std::string_view utc = "261122090905Z";
  auto at = std::search(der.begin(), der.end(), utc.begin(), utc.end());
  BOOST_REQUIRE(at != der.end());
  *(at + 1) = '5';  // 2026 -> 2056
  CmsSignature moved = parse_detached_cms(der);
  BOOST_TEST((moved.signing_time != kSignedAt));
  BOOST_TEST(cms_signature_fault(moved, as_bytes("content\n")).has_value());
}

BOOST_AUTO_TEST_CASE(a_signer_answering_with_another_key_is_refused) {
  TestSigner signer, other;
  BOOST_CHECK_THROW(make_detached_cms(signer.certificate, as_bytes("x"), kSignedAt,
                                      [&](ByteView data) { return other.sign(data); }),
                    Error);
}

BOOST_AUTO_TEST_CASE(other_shapes_are_refused_with_a_reason) {
  expect_rejected(openssl_ecdsa_cms("x", 0), "not detached");
  expect_rejected(openssl_ecdsa_cms("x", CMS_DETACHED), "digest algorithm is not SHA512");
  TestSigner signer;
  Bytes der = signer.cms("x");
  expect_rejected(ByteView(der).first(der.size() - 1), "not a DER CMS");
  Bytes trailing = der;
  trailing.push_back(0);
  expect_rejected(trailing, "not a DER CMS");
  expect_rejected(Bytes{0x30, 0x00}, "not a DER CMS");
}

BOOST_AUTO_TEST_CASE(armor_is_what_git_recognises) {
  TestSigner signer;
  Bytes der = signer.cms("x");
  std::string armored = cms_armor(der);
  BOOST_TEST(armored.rfind("-----BEGIN SIGNED MESSAGE-----\n", 0) == 0);
  BOOST_TEST((cms_unarmor(armored) == der));
  BOOST_TEST((cms_unarmor(std::string(der.begin(), der.end())) == der));
  BOOST_CHECK_THROW(cms_unarmor("-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"), Error);
  BOOST_CHECK_THROW(cms_unarmor("-----BEGIN SIGNED MESSAGE-----\n!!!!\n-----END SIGNED MESSAGE-----\n"), Error);
}
