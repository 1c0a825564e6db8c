#define BOOST_TEST_MODULE agent_protocol
#include <boost/test/unit_test.hpp>

#include "core/agent_protocol.h"

using namespace brokerkey;
using namespace brokerkey::agent;

namespace {

Bytes sign_request(ByteView key, ByteView data, std::uint32_t flags) {
  WireWriter out;
  out.byte(SSH_AGENTC_SIGN_REQUEST).string(key).string(data).u32(flags);
  return out.take();
}

}  // namespace

BOOST_AUTO_TEST_CASE(reader_never_reads_past_its_data) {
  const Bytes data{0, 0, 0, 5, 'a', 'b'};  // a string announcing 5 bytes, holding 2
  WireReader in(data);
  BOOST_CHECK_THROW(in.string(), MalformedMessage);
  WireReader empty(ByteView{});
  BOOST_CHECK_THROW(empty.byte(), MalformedMessage);
  BOOST_CHECK_THROW(empty.u32(), MalformedMessage);
  const Bytes huge{0xff, 0xff, 0xff, 0xff};
  WireReader in2(huge);
  BOOST_CHECK_THROW(in2.string(), MalformedMessage);
}

BOOST_AUTO_TEST_CASE(request_identities) {
  BOOST_TEST(std::holds_alternative<RequestIdentities>(parse_request(Bytes{SSH_AGENTC_REQUEST_IDENTITIES})));
  BOOST_CHECK_THROW(parse_request(Bytes{SSH_AGENTC_REQUEST_IDENTITIES, 0}), MalformedMessage);
}

BOOST_AUTO_TEST_CASE(sign_request_round_trip) {
  Bytes key{1, 2, 3};
  Bytes data{'h', 'i'};
  Request request = parse_request(sign_request(key, data, SSH_AGENT_RSA_SHA2_512));
  const auto& sign = std::get<SignRequest>(request);
  BOOST_TEST(sign.key_blob == key);
  BOOST_TEST(sign.data == data);
  BOOST_TEST(sign.flags == SSH_AGENT_RSA_SHA2_512);
}

BOOST_AUTO_TEST_CASE(sign_request_truncated_or_trailing_is_malformed) {
  Bytes whole = sign_request(Bytes{1, 2, 3}, Bytes{'x'}, 0);
  for (std::size_t cut = 1; cut < whole.size(); ++cut) {
    Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    BOOST_CHECK_THROW(parse_request(part), MalformedMessage);
  }
  whole.push_back(0);
  BOOST_CHECK_THROW(parse_request(whole), MalformedMessage);
}

BOOST_AUTO_TEST_CASE(extension_request) {
  WireWriter out;
  out.byte(SSH_AGENTC_EXTENSION).string(std::string_view("query"));
  Request request = parse_request(out.bytes());
  const auto& extension = std::get<ExtensionRequest>(request);
  BOOST_TEST(extension.name == "query");
  BOOST_TEST(extension.contents.empty());
  WireWriter empty_name;
  empty_name.byte(SSH_AGENTC_EXTENSION).string(std::string_view(""));
  BOOST_CHECK_THROW(parse_request(empty_name.bytes()), MalformedMessage);
  WireWriter long_name;
  long_name.byte(SSH_AGENTC_EXTENSION).string(std::string(300, 'x'));
  BOOST_CHECK_THROW(parse_request(long_name.bytes()), MalformedMessage);
}

BOOST_AUTO_TEST_CASE(everything_else_is_unsupported_not_malformed) {
  // add identity (17), remove (18), remove all (19), smartcard (20, 21), lock (22), unlock (23),
  // constrained adds (25, 26), and types no RFC defines.
  for (int number : {1, 17, 18, 19, 20, 21, 22, 23, 25, 26, 99, 255}) {
    auto type = static_cast<std::uint8_t>(number);
    Request request = parse_request(Bytes{type, 0, 0, 0, 0});
    BOOST_TEST(std::get<UnsupportedRequest>(request).type == type);
  }
  BOOST_CHECK_THROW(parse_request(ByteView{}), MalformedMessage);
}

BOOST_AUTO_TEST_CASE(responses) {
  BOOST_TEST(failure_message() == Bytes{SSH_AGENT_FAILURE});
  BOOST_TEST(extension_failure_message() == Bytes{SSH_AGENT_EXTENSION_FAILURE});
  Bytes answer = identities_answer({{Bytes{7}, "label"}});
  BOOST_TEST(answer == (Bytes{12, 0, 0, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 5, 'l', 'a', 'b', 'e', 'l'}));
  Bytes signature(64, 9);
  Bytes response = ed25519_sign_response(signature);
  WireReader in(response);
  BOOST_TEST(in.byte() == SSH_AGENT_SIGN_RESPONSE);
  WireReader blob(in.string());
  BOOST_TEST(blob.text() == "ssh-ed25519");
  ByteView sig = blob.string();
  BOOST_TEST(Bytes(sig.begin(), sig.end()) == signature);
  BOOST_TEST(blob.empty());
  BOOST_TEST(in.empty());
  BOOST_TEST(framed(Bytes{5}) == (Bytes{0, 0, 0, 1, 5}));
  Bytes ext_response = extension_response("query", Bytes{1});
  WireReader ext(ext_response);
  BOOST_TEST(ext.byte() == SSH_AGENT_EXTENSION_RESPONSE);
  BOOST_TEST(ext.text() == "query");
  BOOST_TEST(ext.byte() == 1);
}
