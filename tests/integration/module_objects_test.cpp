// The module shows exactly the minted key, with every attribute DESIGN.md lists, and follows
// C_GetAttributeValue's rules case by case.
#define BOOST_TEST_MODULE module_objects
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "core/bytes.h"
#include "core/ed25519.h"
#include "temp_broker.h"

using brokerkey::Bytes;
using brokerkey::hex_encode;

namespace {

struct Fixture {
  TempBroker broker;
  LoadedModule module;
};

Bytes attribute(const LoadedModule& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = m->C_GetAttributeValue(s, o, &a, 1);
  BOOST_REQUIRE_MESSAGE(rv == CKR_OK, "attribute 0x" << std::hex << type << ": " << rv_text(rv));
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  BOOST_REQUIRE(m->C_GetAttributeValue(s, o, &a, 1) == CKR_OK);
  return value;
}
bool flag(const LoadedModule& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
  Bytes v = attribute(m, s, o, type);
  BOOST_REQUIRE(v.size() == 1u);
  return v[0] == CK_TRUE;
}
template <typename T>
T scalar(const LoadedModule& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
  Bytes v = attribute(m, s, o, type);
  BOOST_REQUIRE(v.size() == sizeof(T));
  T out;
  std::memcpy(&out, v.data(), sizeof out);
  return out;
}
std::string text(const Bytes& b) { return {b.begin(), b.end()}; }

}  // namespace

BOOST_FIXTURE_TEST_CASE(slot_and_token, Fixture) {
  CK_ULONG count = 0;
  BOOST_TEST(module->C_GetSlotList(CK_TRUE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 1u);  // no overlap window: only the current slot has a token
  BOOST_TEST(module->C_GetSlotList(CK_FALSE, nullptr, &count) == CKR_OK);
  BOOST_TEST(count == 2u);
  CK_SLOT_ID slots[2];
  count = 1;
  BOOST_TEST(module->C_GetSlotList(CK_FALSE, slots, &count) == CKR_BUFFER_TOO_SMALL);
  BOOST_TEST(count == 2u);

  CK_TOKEN_INFO info{};
  BOOST_REQUIRE(module->C_GetTokenInfo(0, &info) == CKR_OK);
  BOOST_TEST(std::string(reinterpret_cast<char*>(info.label), 9) == "brokerkey");
  BOOST_TEST(info.label[9] == ' ');
  BOOST_TEST(std::string(reinterpret_cast<char*>(info.serialNumber), 16) == broker.fingerprint().substr(0, 16));
  BOOST_TEST((info.flags & CKF_TOKEN_INITIALIZED) != 0u);
  BOOST_TEST((info.flags & CKF_USER_PIN_INITIALIZED) != 0u);
  BOOST_TEST((info.flags & CKF_LOGIN_REQUIRED) != 0u);
  BOOST_TEST((info.flags & CKF_WRITE_PROTECTED) == 0u);
  BOOST_TEST(module->C_GetTokenInfo(1, &info) == CKR_TOKEN_NOT_PRESENT);
  BOOST_TEST(module->C_GetTokenInfo(2, &info) == CKR_SLOT_ID_INVALID);

  CK_MECHANISM_TYPE mechanisms[4];
  count = 4;
  BOOST_REQUIRE(module->C_GetMechanismList(0, mechanisms, &count) == CKR_OK);
  BOOST_TEST(count == 1u);
  BOOST_TEST(mechanisms[0] == CKM_EDDSA);
  CK_MECHANISM_INFO mechanism{};
  BOOST_REQUIRE(module->C_GetMechanismInfo(0, CKM_EDDSA, &mechanism) == CKR_OK);
  BOOST_TEST((mechanism.flags & CKF_SIGN) != 0u);
  BOOST_TEST(module->C_GetMechanismInfo(0, CKM_ECDSA, &mechanism) == CKR_MECHANISM_INVALID);
}

BOOST_FIXTURE_TEST_CASE(public_key_is_visible_without_login_private_key_only_after, Fixture) {
  CK_SESSION_HANDLE session = module.open_session("");
  module.find_one(session, CKO_PUBLIC_KEY);
  BOOST_TEST(module.find_all(session, CKO_PRIVATE_KEY).empty());

  std::string pin = broker.pin();
  BOOST_REQUIRE(module->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size()) == CKR_OK);
  CK_OBJECT_HANDLE private_key = module.find_one(session, CKO_PRIVATE_KEY);
  // All objects: exactly one key pair.
  CK_OBJECT_HANDLE found[2];
  CK_ULONG count = 9;
  BOOST_REQUIRE(module->C_FindObjectsInit(session, nullptr, 0) == CKR_OK);
  BOOST_REQUIRE(module->C_FindObjects(session, found, 2, &count) == CKR_OK);
  BOOST_TEST(count == 2u);
  BOOST_REQUIRE(module->C_FindObjectsFinal(session) == CKR_OK);
  // C_GetObjectSize: the bytes of the readable attribute values, for every visible object.
  for (CK_OBJECT_HANDLE object : found) {
    CK_ULONG size = 0;
    BOOST_TEST(module->C_GetObjectSize(session, object, &size) == CKR_OK);
    BOOST_TEST(size > 32u);
    BOOST_TEST(size < 1024u);
  }
  BOOST_TEST(module->C_GetObjectSize(session, private_key, nullptr) == CKR_ARGUMENTS_BAD);
  CK_ULONG size = 0;
  BOOST_TEST(module->C_GetObjectSize(session, 0xdead, &size) == CKR_OBJECT_HANDLE_INVALID);

  BOOST_REQUIRE(module->C_Logout(session) == CKR_OK);
  CK_ATTRIBUTE label{CKA_LABEL, nullptr, 0};
  BOOST_TEST(module->C_GetAttributeValue(session, private_key, &label, 1) == CKR_OBJECT_HANDLE_INVALID);
  BOOST_TEST(module->C_GetObjectSize(session, private_key, &size) == CKR_OBJECT_HANDLE_INVALID);
}

BOOST_FIXTURE_TEST_CASE(key_attributes_are_exactly_as_designed, Fixture) {
  CK_SESSION_HANDLE s = module.open_session(broker.pin());
  CK_OBJECT_HANDLE pub = module.find_one(s, CKO_PUBLIC_KEY);
  CK_OBJECT_HANDLE priv = module.find_one(s, CKO_PRIVATE_KEY);
  std::string fingerprint = broker.fingerprint();
  for (CK_OBJECT_HANDLE o : {pub, priv}) {
    BOOST_TEST(hex_encode(attribute(module, s, o, CKA_ID)) == fingerprint);
    BOOST_TEST(text(attribute(module, s, o, CKA_LABEL)) == "acme-git-signing-ed25519-prod");
    BOOST_TEST(text(attribute(module, s, o, CKA_BROKERKEY_FINGERPRINT)) == fingerprint);
    BOOST_TEST(text(attribute(module, s, o, CKA_BROKERKEY_ROLE)) == "current");
    BOOST_TEST(scalar<CK_KEY_TYPE>(module, s, o, CKA_KEY_TYPE) == CKK_EC_EDWARDS);
    BOOST_TEST(hex_encode(attribute(module, s, o, CKA_EC_PARAMS)) == "130c656477617264733235353139");
    BOOST_TEST(flag(module, s, o, CKA_TOKEN));
    BOOST_TEST(flag(module, s, o, CKA_LOCAL));
    BOOST_TEST(!flag(module, s, o, CKA_MODIFIABLE));
    BOOST_TEST(!flag(module, s, o, CKA_DESTROYABLE));
    BOOST_TEST(attribute(module, s, o, CKA_START_DATE).size() == sizeof(CK_DATE));
    BOOST_TEST(attribute(module, s, o, CKA_END_DATE).size() == sizeof(CK_DATE));
  }
  Bytes point = attribute(module, s, pub, CKA_EC_POINT);
  BOOST_REQUIRE(point.size() == 34u);
  BOOST_TEST(point[0] == 0x04);
  BOOST_TEST(point[1] == 0x20);
  BOOST_TEST(brokerkey::fingerprint_of(brokerkey::public_key_from_ec_point(point)).hex() == fingerprint);
  BOOST_TEST(!flag(module, s, pub, CKA_PRIVATE));
  BOOST_TEST(flag(module, s, pub, CKA_VERIFY));

  BOOST_TEST(flag(module, s, priv, CKA_PRIVATE));
  BOOST_TEST(flag(module, s, priv, CKA_SIGN));
  BOOST_TEST(flag(module, s, priv, CKA_SENSITIVE));
  BOOST_TEST(flag(module, s, priv, CKA_ALWAYS_SENSITIVE));
  BOOST_TEST(flag(module, s, priv, CKA_NEVER_EXTRACTABLE));
  BOOST_TEST(!flag(module, s, priv, CKA_EXTRACTABLE));
  BOOST_TEST(!flag(module, s, priv, CKA_DECRYPT));
  BOOST_TEST(scalar<CK_MECHANISM_TYPE>(module, s, priv, CKA_ALLOWED_MECHANISMS) == CKM_EDDSA);

  // The dates are the key's validity: created, and due for rotation a year later.
  Bytes start = attribute(module, s, pub, CKA_START_DATE);
  Bytes end = attribute(module, s, pub, CKA_END_DATE);
  int start_year = std::stoi(std::string(start.begin(), start.begin() + 4));
  BOOST_TEST(std::stoi(std::string(end.begin(), end.begin() + 4)) == start_year + 1);
}

BOOST_FIXTURE_TEST_CASE(get_attribute_value_follows_the_five_cases, Fixture) {
  CK_SESSION_HANDLE s = module.open_session(broker.pin());
  CK_OBJECT_HANDLE priv = module.find_one(s, CKO_PRIVATE_KEY);
  CK_BYTE small[4], big[128];

  // One attribute at a time, the spec's cases in its numbering: the code, and the length
  // C_GetAttributeValue gives back.
  struct OneAttribute {
    const char* spec_case;
    CK_ATTRIBUTE_TYPE type;
    CK_BYTE* value;
    CK_ULONG size;
    CK_RV rv;
    CK_ULONG length;
  };
  const OneAttribute cases[] = {
      {"3. NULL pValue: the length only", CKA_BROKERKEY_FINGERPRINT, nullptr, 0, CKR_OK, 64},
      {"5. too small: CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL", CKA_BROKERKEY_FINGERPRINT, small,
       sizeof small, CKR_BUFFER_TOO_SMALL, CK_UNAVAILABLE_INFORMATION},
      {"4. large enough: the exact length", CKA_BROKERKEY_FINGERPRINT, big, sizeof big, CKR_OK, 64},
      {"1. sensitive: the private value is never revealed, not even its length", CKA_VALUE, big, sizeof big,
       CKR_ATTRIBUTE_SENSITIVE, CK_UNAVAILABLE_INFORMATION},
      {"2. not an attribute of this object", CKA_MODULUS, big, sizeof big, CKR_ATTRIBUTE_TYPE_INVALID,
       CK_UNAVAILABLE_INFORMATION},
  };
  CK_ATTRIBUTE a{};
  for (const OneAttribute& c : cases) {
    BOOST_TEST_CONTEXT(c.spec_case) {
      a = {c.type, c.value, c.size};
      BOOST_TEST(module->C_GetAttributeValue(s, priv, &a, 1) == c.rv);
      BOOST_TEST(a.ulValueLen == c.length);
    }
  }

  // A mixed template: every attribute is processed, and sensitive outranks the others.
  CK_BBOOL sign = CK_FALSE;
  CK_ATTRIBUTE mixed[] = {{CKA_MODULUS, big, sizeof big},
                          {CKA_SIGN, &sign, sizeof sign},
                          {CKA_LABEL, small, sizeof small},
                          {CKA_VALUE, nullptr, 0}};
  BOOST_TEST(module->C_GetAttributeValue(s, priv, mixed, 4) == CKR_ATTRIBUTE_SENSITIVE);
  BOOST_TEST(mixed[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
  BOOST_TEST(mixed[1].ulValueLen == 1u);
  BOOST_TEST(sign == CK_TRUE);
  BOOST_TEST(mixed[2].ulValueLen == CK_UNAVAILABLE_INFORMATION);
  BOOST_TEST(mixed[3].ulValueLen == CK_UNAVAILABLE_INFORMATION);
  // Without the sensitive one, invalid type outranks buffer too small.
  auto reset = [&] {
    mixed[0].ulValueLen = sizeof big;
    mixed[1].ulValueLen = sizeof sign;
    mixed[2].ulValueLen = sizeof small;
  };
  reset();
  BOOST_TEST(module->C_GetAttributeValue(s, priv, mixed, 3) == CKR_ATTRIBUTE_TYPE_INVALID);
  reset();
  BOOST_TEST(module->C_GetAttributeValue(s, priv, mixed + 1, 2) == CKR_BUFFER_TOO_SMALL);

  BOOST_TEST(module->C_GetAttributeValue(s, priv, nullptr, 1) == CKR_ARGUMENTS_BAD);
  BOOST_TEST(module->C_GetAttributeValue(s, 0xdead, &a, 1) == CKR_OBJECT_HANDLE_INVALID);
  BOOST_TEST(module->C_GetAttributeValue(0xdead, priv, &a, 1) == CKR_SESSION_HANDLE_INVALID);
}

BOOST_FIXTURE_TEST_CASE(find_matches_by_template, Fixture) {
  CK_SESSION_HANDLE s = module.open_session(broker.pin());
  Bytes id = *brokerkey::hex_decode(broker.fingerprint());
  std::string label = "acme-git-signing-ed25519-prod";
  CK_ATTRIBUTE by_id{CKA_ID, id.data(), id.size()};
  CK_ATTRIBUTE by_label{CKA_LABEL, label.data(), label.size()};
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE by_sign{CKA_SIGN, &yes, 1};
  CK_ATTRIBUTE by_value{CKA_VALUE, id.data(), id.size()};
  auto count_matches = [&](CK_ATTRIBUTE* tmpl, CK_ULONG n) {
    BOOST_REQUIRE(module->C_FindObjectsInit(s, tmpl, n) == CKR_OK);
    CK_OBJECT_HANDLE found[8];
    CK_ULONG count = 0;
    BOOST_REQUIRE(module->C_FindObjects(s, found, 8, &count) == CKR_OK);
    BOOST_REQUIRE(module->C_FindObjectsFinal(s) == CKR_OK);
    return count;
  };
  BOOST_TEST(count_matches(&by_id, 1) == 2u);
  BOOST_TEST(count_matches(&by_label, 1) == 2u);
  BOOST_TEST(count_matches(&by_sign, 1) == 1u);
  BOOST_TEST(count_matches(&by_value, 1) == 0u);  // sensitive attributes never match
  id[0] ^= 1;
  BOOST_TEST(count_matches(&by_id, 1) == 0u);

  BOOST_REQUIRE(module->C_FindObjectsInit(s, nullptr, 0) == CKR_OK);
  BOOST_TEST(module->C_FindObjectsInit(s, nullptr, 0) == CKR_OPERATION_ACTIVE);
  BOOST_REQUIRE(module->C_FindObjectsFinal(s) == CKR_OK);
  BOOST_TEST(module->C_FindObjectsFinal(s) == CKR_OPERATION_NOT_INITIALIZED);
  BOOST_TEST(module->C_FindObjectsInit(s, nullptr, 1) == CKR_ARGUMENTS_BAD);
  // A template attribute with a length but no value matches nothing (and reads nothing).
  CK_ATTRIBUTE no_value{CKA_ID, nullptr, 32};
  BOOST_TEST(count_matches(&no_value, 1) == 0u);
}
