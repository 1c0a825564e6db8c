#define BOOST_TEST_MODULE bytes
#include <boost/test/unit_test.hpp>

#include "core/bytes.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(hex_round_trip) {
  Bytes data{0x00, 0x01, 0xab, 0xff};
  BOOST_TEST(hex_encode(data) == "0001abff");
  BOOST_TEST(*hex_decode("0001ABff") == data, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(hex_rejects_odd_length_and_non_hex) {
  BOOST_TEST(!hex_decode("abc"));
  BOOST_TEST(!hex_decode("zz"));
  BOOST_TEST(hex_decode("")->empty());
}

BOOST_AUTO_TEST_CASE(base64_known_vectors) {
  BOOST_TEST(base64_encode(as_bytes("")) == "");
  BOOST_TEST(base64_encode(as_bytes("f")) == "Zg==");
  BOOST_TEST(base64_encode(as_bytes("fo")) == "Zm8=");
  BOOST_TEST(base64_encode(as_bytes("foo")) == "Zm9v");
  auto decoded = base64_decode("Zm8=");
  BOOST_REQUIRE(decoded);
  BOOST_TEST(std::string(decoded->begin(), decoded->end()) == "fo");
}

BOOST_AUTO_TEST_CASE(base64_is_strict) {
  BOOST_TEST(!base64_decode("Zm8"));       // no padding
  BOOST_TEST(!base64_decode("Zm 8="));     // whitespace
  BOOST_TEST(!base64_decode("Z=8="));      // misplaced padding
  BOOST_TEST(!base64_decode("Zm9="));      // stray bits
}

BOOST_AUTO_TEST_CASE(sha256_known_vector) {
  BOOST_TEST(hex_encode(sha256(as_bytes("abc"))) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
