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
#include <string>
#include <string_view>

#include "core/agent_protocol.h"
#include "core/agent_wire.h"
#include "core/broker_view.h"
#include "core/error.h"

namespace {

using namespace brokerkey;
using namespace brokerkey::agent;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_failure(ByteView body, bool extension) {
  return body.size() == 1 && (body[0] == SSH_AGENT_FAILURE || (extension && body[0] == SSH_AGENT_EXTENSION_FAILURE));
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
  std::optional<std::vector<Identity>> identities;
  try {
    identities = parse_identities_answer(body);
  } catch (const MalformedMessage&) {
    return;
  }
  if (!identities) {
    check(is_failure(body, false));
    return;
  }
  check(identities_answer(*identities) == Bytes(body.begin(), body.end()));
}

void check_signature(ByteView body) {
  std::optional<Bytes> signature;
  try {
    signature = parse_ed25519_sign_response(body);
  } catch (const MalformedMessage&) {
    return;
  }
  if (!signature) {
    check(is_failure(body, false));
    return;
  }
  check(signature->size() == 64);
  check(ed25519_sign_response(*signature) == Bytes(body.begin(), body.end()));
}

void check_extension(ByteView body, std::string_view name) {
  std::optional<Bytes> contents;
  try {
    contents = parse_extension_response(body, name);
  } catch (const MalformedMessage&) {
    return;
  }
  if (!contents) {
    check(is_failure(body, true));
    return;
  }
  check(extension_response(name, *contents) == Bytes(body.begin(), body.end()));
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
