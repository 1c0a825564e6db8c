// brokerkey-agent's request parser and data classifier: what any peer on the agent's socket
// sends. The input is read as the agent reads its socket — frames (uint32 length, then that
// many bytes; a length of 0 or over kMaxFrameLength ends the connection) — and each frame's
// body goes through parse_request; the whole input also goes through parse_request and, as
// a sign request's data, through classify. What must hold:
//  - parse_request answers or throws MalformedMessage, nothing else;
//  - what it parses is exactly its input: a SignRequest or ExtensionRequest written again with
//    WireWriter is the same bytes, RequestIdentities is the one byte 11, UnsupportedRequest
//    names the input's first byte and is none of the supported types;
//  - classify never throws and is deterministic; an sshsig has a non-empty namespace that its
//    data holds, and data that begins "SSHSIG"; an ssh-auth request contains the key it names;
//    cms data is a DER SET; the responses the agent builds from a request read back to what
//    went in.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "check.h"
#include "classify.h"
#include "core/agent_protocol.h"
#include "core/agent_wire.h"

namespace {

using namespace brokerkey;
using namespace brokerkey::agent;
using brokerkey::fuzz::check;

bool contains(ByteView haystack, ByteView needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (std::memcmp(haystack.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

void check_classify(ByteView data, ByteView key_blob) {
  Classified first = classify(data, key_blob);
  Classified again = classify(data, key_blob);
  check(first.purpose == again.purpose && first.ssh_namespace == again.ssh_namespace);
  switch (first.purpose) {
    case Purpose::sshsig:
      check(!first.ssh_namespace.empty());
      check(data.size() > 6 && std::memcmp(data.data(), "SSHSIG", 6) == 0);
      check(contains(data, as_bytes(first.ssh_namespace)));
      break;
    case Purpose::ssh_auth:
      check(contains(data, key_blob));
      break;
    case Purpose::cms:
      check(!data.empty() && data[0] == 0x31);
      break;
    case Purpose::raw:
      check(first.ssh_namespace.empty());
      break;
  }
}

void check_request(ByteView body) {
  Request request;
  try {
    request = parse_request(body);
  } catch (const MalformedMessage&) {
    return;
  }
  check(!body.empty());
  if (std::holds_alternative<RequestIdentities>(request)) {
    check(body.size() == 1 && body[0] == SSH_AGENTC_REQUEST_IDENTITIES);
  } else if (const auto* sign = std::get_if<SignRequest>(&request)) {
    Bytes again = WireWriter().byte(SSH_AGENTC_SIGN_REQUEST).string(sign->key_blob).string(sign->data).u32(sign->flags).take();
    check(again == Bytes(body.begin(), body.end()));
    check_classify(sign->data, sign->key_blob);
    // The answer the agent would build around a signature reads back to it.
    Bytes signature(sign->data.begin(), sign->data.begin() + std::min<std::size_t>(64, sign->data.size()));
    Bytes response = ed25519_sign_response(signature);
    WireReader in(response);
    check(in.byte() == SSH_AGENT_SIGN_RESPONSE);
    WireReader blob(in.string());
    in.expect_end("sign response");
    check(blob.text() == "ssh-ed25519");
    ByteView back = blob.string();
    check(Bytes(back.begin(), back.end()) == signature);
    blob.expect_end("signature blob");
  } else if (const auto* extension = std::get_if<ExtensionRequest>(&request)) {
    check(!extension->name.empty());
    Bytes again = WireWriter().byte(SSH_AGENTC_EXTENSION).string(extension->name).raw(extension->contents).take();
    check(again == Bytes(body.begin(), body.end()));
    Bytes response = extension_response(extension->name, extension->contents);
    check(response.size() == again.size() && response[0] == SSH_AGENT_EXTENSION_RESPONSE &&
          std::equal(response.begin() + 1, response.end(), again.begin() + 1));
  } else {
    std::uint8_t type = std::get<UnsupportedRequest>(request).type;
    check(type == body[0]);
    check(type != SSH_AGENTC_REQUEST_IDENTITIES && type != SSH_AGENTC_SIGN_REQUEST && type != SSH_AGENTC_EXTENSION);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView input(data, size);
  // As the agent reads its socket: frame after frame until one is cut off or the input ends.
  for (ByteView rest = input; rest.size() >= 4;) {
    std::size_t length = std::size_t{rest[0]} << 24 | std::size_t{rest[1]} << 16 | std::size_t{rest[2]} << 8 | rest[3];
    if (length == 0 || length > kMaxFrameLength || rest.size() - 4 < length) break;
    check_request(rest.subspan(4, length));
    // The framing the agent writes around a body reads back to it.
    Bytes body(rest.begin() + 4, rest.begin() + 4 + static_cast<std::ptrdiff_t>(length));
    check(framed(body) == Bytes(rest.begin(), rest.begin() + 4 + static_cast<std::ptrdiff_t>(length)));
    rest = rest.subspan(4 + length);
  }
  check_request(input);
  // The whole input as data to sign; and, when it begins with a string, that string as the
  // key a request names and the rest as its data (how an ssh-auth request gets reached).
  check_classify(input, {});
  try {
    WireReader in(input);
    ByteView key = in.string();
    check_classify(in.rest(), key);
  } catch (const MalformedMessage&) {
  }
  return 0;
}
