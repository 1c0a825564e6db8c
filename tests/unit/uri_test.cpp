#define BOOST_TEST_MODULE uri
#include <boost/test/unit_test.hpp>

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
