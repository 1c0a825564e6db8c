// The client side of the agent protocol: what a process that talks to brokerkey-agent (the
// module in client mode, the drop-ins, the keytool's read commands) reads back from a socket
// it does not control. The input goes, whole, through each response parser and through
// parse_broker_view; an extension response whose contents are one string is read as the view
// it would carry. What must hold:
//  - each parser answers or throws its own error (MalformedMessage; Error for the view),
//    nothing else;
//  - nullopt (a refusal) only for the one-byte failure messages;
//  - what a parser accepts is exactly its input: the answer built again from what it returned
//    is the same bytes;
//  - a view that parses is written by broker_view_json as text that parses to the same view,
//    and its slots name keys it lists.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "check.h"
#include "core/agent_protocol.h"
#include "core/agent_wire.h"
#include "core/broker_view.h"
#include "core/error.h"

namespace {

using namespace brokerkey;
using namespace brokerkey::agent;
using brokerkey::fuzz::check;

bool is_failure(ByteView body, bool extension) {
  return body.size() == 1 && (body[0] == SSH_AGENT_FAILURE || (extension && body[0] == SSH_AGENT_EXTENSION_FAILURE));
}

// One response parser on `body`: MalformedMessage is an answer (nothing more to check: nullopt
// here); a refusal (nullopt) only for the failure message; what it accepts, built again by
// `build`, is exactly `body`. Returns what it accepted.
template <typename Parse, typename Build>
auto parsed_exactly(ByteView body, bool extension, Parse parse, Build build) -> decltype(parse(body)) {
  decltype(parse(body)) parsed;
  try {
    parsed = parse(body);
  } catch (const MalformedMessage&) {
    return std::nullopt;
  }
  if (!parsed) {
    check(is_failure(body, extension));
    return std::nullopt;
  }
  check(build(*parsed) == Bytes(body.begin(), body.end()));
  return parsed;
}

void check_view(std::string_view text) {
  BrokerView view;
  try {
    view = parse_broker_view(text);
  } catch (const Error&) {
    return;
  }
  check(!view.current || view.current_key() != nullptr);
  check(!view.overlap || view.overlap_key() != nullptr);
  check(!view.current || view.current != view.overlap);
  std::string written = broker_view_json(view);
  BrokerView again = parse_broker_view(written);  // must not throw
  check(broker_view_json(again) == written);
  check(again.tag == broker_view_text(view).tag);  // a written view carries its own tag
  check(again.current == view.current && again.overlap == view.overlap);
  check(again.ledger.keys.size() == view.ledger.keys.size());
  for (std::size_t i = 0; i < view.ledger.keys.size(); ++i) {
    check(again.ledger.keys[i].fingerprint == view.ledger.keys[i].fingerprint);
    check(again.ledger.keys[i].public_key == view.ledger.keys[i].public_key);
    check(fingerprint_of(view.ledger.keys[i].public_key) == view.ledger.keys[i].fingerprint);
  }
}

void check_identities(ByteView body) {
  parsed_exactly(
      body, false, [](ByteView b) { return parse_identities_answer(b); },
      [](const std::vector<Identity>& identities) { return identities_answer(identities); });
}

void check_signature(ByteView body) {
  auto signature = parsed_exactly(
      body, false, [](ByteView b) { return parse_ed25519_sign_response(b); },
      [](const Bytes& s) { return ed25519_sign_response(s); });
  if (signature) check(signature->size() == 64);
}

void check_extension(ByteView body, std::string_view name) {
  auto contents = parsed_exactly(
      body, true, [&](ByteView b) { return parse_extension_response(b, name); },
      [&](const Bytes& c) { return extension_response(name, c); });
  if (!contents) return;
  // The text extensions carry one string: the view's JSON for view@brokerkey.org.
  try {
    WireReader in(*contents);
    std::string_view text = in.text();
    in.expect_end("extension response");
    if (name == kViewExtension) check_view(text);
  } catch (const MalformedMessage&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  check_identities(input);
  check_signature(input);
  for (std::string_view name : {kViewExtension, kHealthExtension, kLoginExtension, kQueryExtension}) {
    check_extension(input, name);
  }
  check_view(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
