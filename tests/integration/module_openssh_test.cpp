// OpenSSH 10.1's PKCS#11 client (ssh-pkcs11.c), call for call: what `ssh-keygen -D` and
// `ssh-add -s` do with the module. Debian 12's OpenSSH 9.2 skips Ed25519 PKCS#11 keys, so this
// test performs the same calls in the same order, and decodes the attributes as it does.
#define BOOST_TEST_MODULE module_openssh
#include <openssl/asn1.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <vector>

#include "core/ed25519.h"
#include "temp_broker.h"

using namespace brokerkey;

namespace {

struct FetchedKey {
  CK_SLOT_ID slot;
  Bytes id;
  PublicKey public_key;
};

// pkcs11_fetch_ed25519_pubkey: lengths first, then values; EC_PARAMS must be the printable
// string or the OID; EC_POINT must be a DER OCTET STRING of 32 bytes.
std::optional<PublicKey> fetch_ed25519(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session,
                                       CK_OBJECT_HANDLE object, Bytes& id) {
  static const Bytes id1{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
  static const Bytes id2{0x06, 0x03, 0x2b, 0x65, 0x70};
  CK_ATTRIBUTE attrs[3] = {{CKA_ID, nullptr, 0}, {CKA_EC_POINT, nullptr, 0}, {CKA_EC_PARAMS, nullptr, 0}};
  if (f->C_GetAttributeValue(session, object, attrs, 3) != CKR_OK) return std::nullopt;
  if (attrs[1].ulValueLen == 0 || attrs[2].ulValueLen == 0) return std::nullopt;  // "invalid attribute length"
  if (attrs[0].ulValueLen > 1024 || attrs[1].ulValueLen > 32 + 2 || attrs[2].ulValueLen > id1.size()) {
    return std::nullopt;
  }
  std::vector<Bytes> values(3);
  for (int i = 0; i < 3; ++i) {
    values[i].resize(attrs[i].ulValueLen);
    attrs[i].pValue = values[i].data();
  }
  if (f->C_GetAttributeValue(session, object, attrs, 3) != CKR_OK) return std::nullopt;
  if (values[2] != id1 && values[2] != id2) return std::nullopt;  // "unsupported curve"
  const unsigned char* d = values[1].data();
  ASN1_OCTET_STRING* octet = d2i_ASN1_OCTET_STRING(nullptr, &d, static_cast<long>(values[1].size()));
  if (!octet) return std::nullopt;
  std::optional<PublicKey> key;
  if (ASN1_STRING_length(octet) == 32) {
    key = PublicKey{};
    std::memcpy(key->raw.data(), ASN1_STRING_get0_data(octet), 32);
  }
  ASN1_OCTET_STRING_free(octet);
  id = values[0];
  return key;
}

// pkcs11_find: FindObjectsInit, FindObjects(1), FindObjectsFinal; exactly one.
std::optional<CK_OBJECT_HANDLE> find(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE session,
                                     std::vector<CK_ATTRIBUTE> attrs) {
  if (f->C_FindObjectsInit(session, attrs.data(), attrs.size()) != CKR_OK) return std::nullopt;
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  CK_RV rv = f->C_FindObjects(session, &object, 1, &found);
  BOOST_TEST(f->C_FindObjectsFinal(session) == CKR_OK);
  if (rv != CKR_OK || found != 1) return std::nullopt;
  return object;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ssh_pkcs11_register_fetch_and_sign) {
  TempBroker broker;
  LoadedModule module(false);
  CK_FUNCTION_LIST* f = module.fn();
  std::string pin = broker.pin();

  // pkcs11_register_provider
  BOOST_REQUIRE(f->C_Initialize(nullptr) == CKR_OK);
  CK_INFO info{};
  BOOST_REQUIRE(f->C_GetInfo(&info) == CKR_OK);
  CK_ULONG nslots = 0;
  BOOST_REQUIRE(f->C_GetSlotList(CK_TRUE, nullptr, &nslots) == CKR_OK);
  std::vector<CK_SLOT_ID> slots(nslots);
  BOOST_REQUIRE(f->C_GetSlotList(CK_TRUE, slots.data(), &nslots) == CKR_OK);
  BOOST_REQUIRE(nslots == 1u);

  std::vector<FetchedKey> keys;
  std::vector<CK_SESSION_HANDLE> sessions;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO token{};
    BOOST_REQUIRE(f->C_GetTokenInfo(slot, &token) == CKR_OK);
    BOOST_REQUIRE((token.flags & CKF_TOKEN_INITIALIZED) != 0u);
    // pkcs11_open_session: read-write only, with no fallback; login with the PIN given.
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    BOOST_REQUIRE(f->C_OpenSession(slot, CKF_RW_SESSION | CKF_SERIAL_SESSION, nullptr, nullptr, &session) == CKR_OK);
    if (token.flags & CKF_LOGIN_REQUIRED) {
      // pkcs11_login: with CKF_PROTECTED_AUTHENTICATION_PATH (the module in client mode) OpenSSH
      // "defers PIN entry to reader keypad" and calls C_Login with a NULL PIN.
      bool keypad = (token.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
      BOOST_TEST(keypad == client_mode());
      BOOST_REQUIRE(f->C_Login(session, CKU_USER, keypad ? nullptr : reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()),
                               keypad ? 0 : pin.size()) == CKR_OK);
    }
    sessions.push_back(session);

    // pkcs11_fetch_keys: every public key, one at a time, by CKA_KEY_TYPE.
    CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE filter{CKA_CLASS, &public_class, sizeof public_class};
    BOOST_REQUIRE(f->C_FindObjectsInit(session, &filter, 1) == CKR_OK);
    std::vector<CK_OBJECT_HANDLE> objects;
    for (;;) {
      CK_OBJECT_HANDLE object;
      CK_ULONG found = 0;
      BOOST_REQUIRE(f->C_FindObjects(session, &object, 1, &found) == CKR_OK);
      if (found == 0) break;
      objects.push_back(object);
    }
    BOOST_REQUIRE(f->C_FindObjectsFinal(session) == CKR_OK);
    for (CK_OBJECT_HANDLE object : objects) {
      CK_KEY_TYPE type = 0;
      CK_ATTRIBUTE key_type{CKA_KEY_TYPE, &type, sizeof type};
      BOOST_REQUIRE(f->C_GetAttributeValue(session, object, &key_type, 1) == CKR_OK);
      BOOST_REQUIRE(type == CKK_EC_EDWARDS);
      Bytes id;
      auto key = fetch_ed25519(f, session, object, id);
      BOOST_REQUIRE_MESSAGE(key, "OpenSSH would reject this key's attributes");
      keys.push_back({slot, id, *key});
    }
    // pkcs11_fetch_certs: no certificate yet, and the search itself must work.
    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
    std::vector<CK_ATTRIBUTE> cert_filter{{CKA_CLASS, &cert_class, sizeof cert_class},
                                          {CKA_CERTIFICATE_TYPE, &cert_type, sizeof cert_type}};
    BOOST_TEST(!find(f, session, cert_filter));
  }
  BOOST_REQUIRE(keys.size() == 1u);
  BOOST_TEST(hex_encode(keys[0].id) == broker.fingerprint());
  std::string listed = ssh_public_key_line(keys[0].public_key, "");
  BOOST_TEST(broker.keytool("pubkey --format ssh").rfind(listed, 0) == 0u);  // what ssh-keygen -D prints

  // pkcs11_get_key + pkcs11_sign_ed25519, for one signature of the ssh protocol.
  CK_SESSION_HANDLE session = sessions[0];
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
  CK_BBOOL true_val = CK_TRUE;
  std::vector<CK_ATTRIBUTE> key_filter{{CKA_CLASS, &private_class, sizeof private_class},
                                       {CKA_ID, keys[0].id.data(), keys[0].id.size()},
                                       {CKA_SIGN, &true_val, sizeof true_val}};
  auto private_key = find(f, session, key_filter);
  BOOST_REQUIRE(private_key);
  CK_MECHANISM mech{CKM_EDDSA, nullptr, 0};
  BOOST_REQUIRE(f->C_SignInit(session, &mech, *private_key) == CKR_OK);
  CK_BBOOL always_auth = CK_TRUE;
  CK_ATTRIBUTE always{CKA_ALWAYS_AUTHENTICATE, &always_auth, sizeof always_auth};
  BOOST_REQUIRE(f->C_GetAttributeValue(session, *private_key, &always, 1) == CKR_OK);
  BOOST_TEST(always_auth == CK_FALSE);  // no context-specific login needed
  Bytes data(200, 0x5a);
  Bytes signature(64);
  CK_ULONG slen = signature.size();
  BOOST_REQUIRE(f->C_Sign(session, data.data(), data.size(), signature.data(), &slen) == CKR_OK);
  BOOST_TEST(slen == 64u);
  BOOST_TEST(ed25519_verify(keys[0].public_key, data, signature));

  for (CK_SESSION_HANDLE s : sessions) BOOST_TEST(f->C_CloseSession(s) == CKR_OK);
  BOOST_TEST(f->C_Finalize(nullptr) == CKR_OK);
}
