#define BOOST_TEST_MODULE uri
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "core/error.h"
#include "core/uri.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(key_uri_names_token_object_and_type) {
  std::string uri = key_uri("brokerkey", "acme-git-signing-ed25519-prod", CKO_PRIVATE_KEY);
  BOOST_TEST(uri == "pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private");
  KeyUri parsed = parse_key_uri(uri);
  BOOST_TEST(*parsed.token == "brokerkey");
  BOOST_TEST(*parsed.object == "acme-git-signing-ed25519-prod");
  BOOST_TEST(*parsed.type == CKO_PRIVATE_KEY);
}

BOOST_AUTO_TEST_CASE(special_characters_are_percent_encoded) {
  std::string uri = key_uri("my token", "a;b", CKO_PUBLIC_KEY);
  BOOST_TEST(uri.find("my%20token") != std::string::npos);
  BOOST_TEST(*parse_key_uri(uri).object == "a;b");
}

BOOST_AUTO_TEST_CASE(query_attributes_are_read) {
  KeyUri parsed = parse_key_uri("pkcs11:token=brokerkey;object=k?pin-source=file:/run/pin");
  BOOST_TEST(*parsed.pin_source == "file:/run/pin");
  BOOST_TEST(!parsed.pin_value);
  BOOST_TEST(*parse_key_uri("pkcs11:object=k?pin-value=1234").pin_value == "1234");
}

BOOST_AUTO_TEST_CASE(non_uris_are_refused) {
  BOOST_CHECK_THROW(parse_key_uri("https://example.org"), Error);
  BOOST_CHECK_THROW(parse_key_uri("pkcs11:token=%zz"), Error);
}

namespace {

CK_INFO module_named(const char* manufacturer, const char* description, CK_VERSION version) {
  CK_INFO info{};
  std::memset(info.manufacturerID, ' ', sizeof info.manufacturerID);
  std::memcpy(info.manufacturerID, manufacturer, std::strlen(manufacturer));
  std::memset(info.libraryDescription, ' ', sizeof info.libraryDescription);
  std::memcpy(info.libraryDescription, description, std::strlen(description));
  info.libraryVersion = version;
  return info;
}

CK_SLOT_INFO slot_named(const char* manufacturer, const char* description) {
  CK_SLOT_INFO info{};
  std::memset(info.manufacturerID, ' ', sizeof info.manufacturerID);
  std::memcpy(info.manufacturerID, manufacturer, std::strlen(manufacturer));
  std::memset(info.slotDescription, ' ', sizeof info.slotDescription);
  std::memcpy(info.slotDescription, description, std::strlen(description));
  return info;
}

CK_TOKEN_INFO token_named(const char* label) {
  CK_TOKEN_INFO info{};
  std::memset(info.label, ' ', sizeof info.label);
  std::memcpy(info.label, label, std::strlen(label));
  std::memset(info.manufacturerID, ' ', sizeof info.manufacturerID);
  std::memcpy(info.manufacturerID, "brokerkey", 9);
  std::memset(info.model, ' ', sizeof info.model);
  std::memset(info.serialNumber, ' ', sizeof info.serialNumber);
  std::memcpy(info.serialNumber, "0123456789abcdef", 16);
  return info;
}

struct Slot {
  CK_INFO module = module_named("brokerkey", "brokerkey PKCS#11 module", {1, 0});
  CK_SLOT_ID id = 0;
  CK_SLOT_INFO slot = slot_named("brokerkey", "current");
  CK_TOKEN_INFO token = token_named("brokerkey");
};

bool matches(std::string_view uri, const Slot& s = {}) {
  return uri_matches_slot(parse_key_uri(uri), s.module, s.id, s.slot, s.token);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_path_attribute_must_match) {
  BOOST_TEST(matches("pkcs11:"));
  BOOST_TEST(matches("pkcs11:token=brokerkey;object=k;type=private"));
  // slot-id: the example, a URI for slot 1 does not name slot 0's key.
  BOOST_TEST(matches("pkcs11:slot-id=0;token=brokerkey"));
  BOOST_TEST(!matches("pkcs11:slot-id=1;token=brokerkey"));
  Slot overlap;
  overlap.id = 1;
  BOOST_TEST(matches("pkcs11:slot-id=1", overlap));
  // Its neighbours: every slot, library and token attribute of RFC 7512 and p11-kit.
  BOOST_TEST(matches("pkcs11:slot-description=current;slot-manufacturer=brokerkey"));
  BOOST_TEST(!matches("pkcs11:slot-description=overlap"));
  BOOST_TEST(!matches("pkcs11:slot-manufacturer=SoftHSM"));
  BOOST_TEST(matches("pkcs11:library-manufacturer=brokerkey;library-description=brokerkey%20PKCS%2311%20module"));
  BOOST_TEST(!matches("pkcs11:library-manufacturer=SoftHSM"));
  BOOST_TEST(!matches("pkcs11:library-description=other"));
  BOOST_TEST(matches("pkcs11:library-version=1.0"));
  BOOST_TEST(matches("pkcs11:library-version=1"));
  BOOST_TEST(!matches("pkcs11:library-version=2.1"));
  BOOST_TEST(!matches("pkcs11:token=other"));
  BOOST_TEST(matches("pkcs11:manufacturer=brokerkey;serial=0123456789abcdef"));
  BOOST_TEST(!matches("pkcs11:manufacturer=SoftHSM%20project"));
  BOOST_TEST(!matches("pkcs11:serial=fedcba9876543210"));
  BOOST_TEST(!matches("pkcs11:model=SoftHSM%20v2"));
}

BOOST_AUTO_TEST_CASE(an_unknown_path_attribute_names_nothing) {
  // RFC 7512 as p11-kit applies it: a path attribute the consumer does not know (a misspelling,
  // a vendor attribute, a value too long for its field, a type it has no class for) matches
  // nothing, rather than being ignored.
  for (std::string_view uri : {"pkcs11:token=brokerkey;slot-idd=0", "pkcs11:token=brokerkey;x-vendor=1",
                               "pkcs11:token=brokerkey;type=unknown",
                               "pkcs11:token=brokerkey-with-a-label-longer-than-32-characters"}) {
    BOOST_TEST_CONTEXT(uri) {
      BOOST_TEST(parse_key_uri(uri).unrecognized);
      BOOST_TEST(!matches(uri));
      BOOST_TEST(!uri_matches_token(parse_key_uri(uri), token_named("brokerkey")));
    }
  }
  // An unknown query attribute is a vendor query attribute: kept out of matching.
  BOOST_TEST(!parse_key_uri("pkcs11:token=brokerkey?x-vendor=1").unrecognized);
  BOOST_TEST(matches("pkcs11:token=brokerkey?x-vendor=1"));
}

BOOST_AUTO_TEST_CASE(uris_are_displayed_without_secrets) {
  const std::string secret = "ci:S3CRETPIN";
  for (std::string uri : {"pkcs11:token=brokerkey;object=k?pin-value=" + secret,
                          "pkcs11:token=brokerkey?module-path=/x&pin-value=" + secret,
                          "pkcs11:pin-value=" + secret + ";token=brokerkey",
                          "pkcs11:token=brokerkey;PIN-VALUE=" + secret, "PKCS11:object=k?pin-value=" + secret,
                          "pkcs11:token=brokerkey?pin-value=" + secret + "&pin-source=/p",
                          "pkcs11:token=brokerkey?" + secret}) {
    BOOST_TEST_CONTEXT(uri) {
      std::string shown = uri_for_display(uri);
      BOOST_TEST(shown.find("S3CRET") == std::string::npos);
      BOOST_TEST(shown.find("(redacted)") != std::string::npos);
    }
  }
  BOOST_TEST(uri_for_display("pkcs11:token=brokerkey;object=k?pin-source=file:/run/pin") ==
             "pkcs11:token=brokerkey;object=k?pin-source=(redacted)");
  BOOST_TEST(uri_for_display("pkcs11:token=a%20b;object=k") == "pkcs11:token=a%20b;object=k");
  // Control characters cannot start a new line in a message.
  BOOST_TEST(uri_for_display("pkcs11:object=a\nb\x1b") == "pkcs11:object=a%0Ab%1B");
  BOOST_TEST(uri_for_display(std::string(1000, 'a')).size() < 210);
  // p11-kit's own parse error names the URI through the same function.
  try {
    parse_key_uri("pkcs11:token=%zz?pin-value=" + secret);
    BOOST_FAIL("parsed");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("S3CRET") == std::string::npos);
  }
  BOOST_TEST(is_pkcs11_uri("PKCS11:token=x"));
  BOOST_TEST(!is_pkcs11_uri("pkcs11"));
  BOOST_TEST(!is_pkcs11_uri("file:/x"));
}
