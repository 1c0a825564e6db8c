#define BOOST_TEST_MODULE ed25519
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "core/ed25519.h"
#include "core/error.h"

using namespace brokerkey;

namespace {
// RFC 8032 section 7.1, test 1.
PublicKey rfc8032_key() {
  auto raw = hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  PublicKey key;
  std::copy(raw->begin(), raw->end(), key.raw.begin());
  return key;
}
}  // namespace

BOOST_AUTO_TEST_CASE(fingerprint_is_sha256_of_the_raw_key) {
  PublicKey key = rfc8032_key();
  BOOST_TEST(fingerprint_of(key).hex() == hex_encode(sha256(key.raw)));
  BOOST_TEST(fingerprint_of(key).hex().size() == 64u);
  BOOST_TEST((Fingerprint::from_hex(fingerprint_of(key).hex()) == fingerprint_of(key)));
}

BOOST_AUTO_TEST_CASE(fingerprint_from_hex_rejects_bad_text) {
  BOOST_CHECK_THROW(Fingerprint::from_hex("abcd"), Error);
  BOOST_CHECK_THROW(Fingerprint::from_hex(std::string(64, 'g')), Error);
}

BOOST_AUTO_TEST_CASE(ec_params_is_the_printable_string_edwards25519) {
  BOOST_TEST(hex_encode(ec_params_edwards25519()) == "130c656477617264733235353139");
}

BOOST_AUTO_TEST_CASE(ec_point_is_an_octet_string) {
  PublicKey key = rfc8032_key();
  Bytes point = ec_point_der(key);
  BOOST_TEST(point.size() == 34u);
  BOOST_TEST(point[0] == 0x04);
  BOOST_TEST(point[1] == 0x20);
}

BOOST_AUTO_TEST_CASE(backend_encodings_are_all_accepted) {
  PublicKey key = rfc8032_key();
  Bytes raw(key.raw.begin(), key.raw.end());
  Bytes octet = ec_point_der(key);
  Bytes bits{0x03, 0x21, 0x00};
  bits.insert(bits.end(), key.raw.begin(), key.raw.end());
  BOOST_TEST((public_key_from_ec_point(raw) == key));
  BOOST_TEST((public_key_from_ec_point(octet) == key));
  BOOST_TEST((public_key_from_ec_point(bits) == key));
}

BOOST_AUTO_TEST_CASE(malformed_ec_points_are_refused) {
  PublicKey key = rfc8032_key();
  Bytes wrong_tag = ec_point_der(key);
  wrong_tag[0] = 0x05;
  Bytes short_point(31, 0x01);
  Bytes bits_with_unused{0x03, 0x21, 0x01};
  bits_with_unused.insert(bits_with_unused.end(), key.raw.begin(), key.raw.end());
  BOOST_CHECK_THROW(public_key_from_ec_point(wrong_tag), Error);
  BOOST_CHECK_THROW(public_key_from_ec_point(short_point), Error);
  BOOST_CHECK_THROW(public_key_from_ec_point(bits_with_unused), Error);
}

BOOST_AUTO_TEST_CASE(ssh_forms) {
  PublicKey key = rfc8032_key();
  std::string line = ssh_public_key_line(key, "comment");
  BOOST_TEST(line.rfind("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 0) == 0u);
  BOOST_TEST(line.substr(line.size() - 8) == " comment");
  std::string fp = ssh_fingerprint(key);
  BOOST_TEST(fp.rfind("SHA256:", 0) == 0u);
  BOOST_TEST(fp.size() == 7u + 43u);  // unpadded base64 of 32 bytes
  BOOST_TEST(fp.substr(7) != fingerprint_of(key).hex());
}

BOOST_AUTO_TEST_CASE(rfc8032_signature_verifies_and_tampering_fails) {
  PublicKey key = rfc8032_key();
  auto signature = hex_decode(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  BOOST_TEST(ed25519_verify(key, {}, *signature));
  (*signature)[0] ^= 1;
  BOOST_TEST(!ed25519_verify(key, {}, *signature));
  BOOST_TEST(!ed25519_verify(key, {}, ByteView(signature->data(), 63)));
}

BOOST_AUTO_TEST_CASE(pem_and_spki_carry_the_same_key) {
  PublicKey key = rfc8032_key();
  std::string pem = spki_pem(key);
  BOOST_TEST(pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0u);
  Bytes der = spki_der(key);
  BOOST_TEST(der.size() == 44u);  // 12-byte Ed25519 SPKI header + 32
  BOOST_TEST(std::equal(key.raw.begin(), key.raw.end(), der.end() - 32));
  // spki_der writes RFC 8410's fixed header itself: it must be what OpenSSL encodes, and what
  // OpenSSL reads back as this key.
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.raw.data(), key.raw.size());
  BOOST_TEST_REQUIRE(pkey != nullptr);
  unsigned char* openssl_der = nullptr;
  int length = i2d_PUBKEY(pkey, &openssl_der);
  BOOST_TEST_REQUIRE(length > 0);
  BOOST_TEST(Bytes(openssl_der, openssl_der + length) == der);
  OPENSSL_free(openssl_der);
  EVP_PKEY_free(pkey);
  const unsigned char* in = der.data();
  EVP_PKEY* read = d2i_PUBKEY(nullptr, &in, static_cast<long>(der.size()));
  BOOST_TEST_REQUIRE(read != nullptr);
  unsigned char raw[32];
  std::size_t raw_length = sizeof raw;
  BOOST_TEST(EVP_PKEY_get_raw_public_key(read, raw, &raw_length) == 1);
  BOOST_TEST(std::equal(key.raw.begin(), key.raw.end(), raw));
  EVP_PKEY_free(read);
}
