#define BOOST_TEST_MODULE agent_classify
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>

#include "classify.h"
#include "core/sshsig.h"
#include "core/agent_wire.h"

using namespace brokerkey;
using namespace brokerkey::agent;

namespace {

const Bytes kKey{0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 1, 7};

Bytes userauth(std::string_view method, ByteView key, bool with_signature = true) {
  WireWriter out;
  out.string(Bytes(32, 1)).byte(50).string(std::string_view("ci")).string(std::string_view("ssh-connection"));
  out.string(method).byte(with_signature ? 1 : 0).string(std::string_view("ssh-ed25519")).string(key);
  if (method == "publickey-hostbound-v00@openssh.com") out.string(Bytes{9, 9});
  return out.take();
}

Bytes attribute(int nid, int type, const void* value, int length) {
  X509_ATTRIBUTE* a = X509_ATTRIBUTE_create_by_NID(nullptr, nid, type, value, length);
  BOOST_REQUIRE(a);
  unsigned char* der = nullptr;
  int size = i2d_X509_ATTRIBUTE(a, &der);
  BOOST_REQUIRE(size > 0);
  Bytes out(der, der + size);
  OPENSSL_free(der);
  X509_ATTRIBUTE_free(a);
  return out;
}

Bytes signed_attributes(bool with_digest) {
  Bytes body = attribute(NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1);
  if (with_digest) {
    Bytes digest(64, 3);
    Bytes a = attribute(NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest.data(), 64);
    body.insert(body.end(), a.begin(), a.end());
  }
  return der_tlv(0x31, body);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sshsig_with_its_namespace) {
  Classified c = classify(sshsig_signed_data("git", as_bytes("message")), kKey);
  BOOST_TEST(to_string(c.purpose) == "sshsig");
  BOOST_TEST(c.ssh_namespace == "git");
  BOOST_TEST(classify(sshsig_signed_data("file", as_bytes("")), kKey).ssh_namespace == "file");
}

BOOST_AUTO_TEST_CASE(almost_sshsig_is_raw) {
  Bytes good = sshsig_signed_data("git", as_bytes("message"));
  Bytes trailing = good;
  trailing.push_back(0);
  BOOST_TEST(to_string(classify(trailing, kKey).purpose) == "raw");
  BOOST_TEST(to_string(classify(ByteView(good).first(good.size() - 1), kKey).purpose) == "raw");
  WireWriter wrong_hash;  // sha512 named, 32 bytes given
  wrong_hash.raw(as_bytes("SSHSIG")).string(std::string_view("git")).string(std::string_view(""))
      .string(std::string_view("sha512")).string(Bytes(32, 0));
  BOOST_TEST(to_string(classify(wrong_hash.bytes(), kKey).purpose) == "raw");
  WireWriter no_namespace;
  no_namespace.raw(as_bytes("SSHSIG")).string(std::string_view("")).string(std::string_view(""))
      .string(std::string_view("sha256")).string(Bytes(32, 0));
  BOOST_TEST(to_string(classify(no_namespace.bytes(), kKey).purpose) == "raw");
}

BOOST_AUTO_TEST_CASE(ssh_userauth_for_this_key) {
  BOOST_TEST(to_string(classify(userauth("publickey", kKey), kKey).purpose) == "ssh-auth");
  BOOST_TEST(to_string(classify(userauth("publickey-hostbound-v00@openssh.com", kKey), kKey).purpose) == "ssh-auth");
  // Another key, another method, no signature flag: not an authentication by this key.
  BOOST_TEST(to_string(classify(userauth("publickey", Bytes{1, 2}), kKey).purpose) == "raw");
  BOOST_TEST(to_string(classify(userauth("password", kKey), kKey).purpose) == "raw");
  BOOST_TEST(to_string(classify(userauth("publickey", kKey, false), kKey).purpose) == "raw");
}

BOOST_AUTO_TEST_CASE(cms_signed_attributes) {
  BOOST_TEST(to_string(classify(signed_attributes(true), kKey).purpose) == "cms");
  BOOST_TEST(to_string(classify(signed_attributes(false), kKey).purpose) == "raw");
  Bytes trailing = signed_attributes(true);
  trailing.push_back(0);
  BOOST_TEST(to_string(classify(trailing, kKey).purpose) == "raw");
  Bytes as_sequence = signed_attributes(true);
  as_sequence[0] = 0x30;  // the SignerInfo's [0] IMPLICIT form or a SEQUENCE is not what is signed
  BOOST_TEST(to_string(classify(as_sequence, kKey).purpose) == "raw");
}

BOOST_AUTO_TEST_CASE(anything_else_is_raw) {
  BOOST_TEST(to_string(classify(ByteView{}, kKey).purpose) == "raw");
  BOOST_TEST(to_string(classify(as_bytes("hello"), kKey).purpose) == "raw");
  BOOST_TEST(to_string(classify(Bytes{0x31, 0x84, 0xff, 0xff, 0xff, 0xff}, kKey).purpose) == "raw");
}
