#include "core/agent_wire.h"

namespace brokerkey::agent {

ByteView WireReader::take(std::size_t count) {
  if (count > data_.size()) throw MalformedMessage("truncated message");
  ByteView part = data_.first(count);
  data_ = data_.subspan(count);
  return part;
}

std::uint8_t WireReader::byte() { return take(1)[0]; }

std::uint32_t WireReader::u32() {
  ByteView b = take(4);
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

bool WireReader::boolean() { return byte() != 0; }

ByteView WireReader::string() { return take(u32()); }

std::string_view WireReader::text() {
  ByteView b = string();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void WireReader::expect_end(std::string_view what) const {
  if (!data_.empty()) throw MalformedMessage(std::string(what) + " has trailing data");
}

WireWriter& WireWriter::byte(std::uint8_t value) {
  out_.push_back(value);
  return *this;
}

WireWriter& WireWriter::u32(std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(value >> shift));
  return *this;
}

WireWriter& WireWriter::string(ByteView value) {
  u32(static_cast<std::uint32_t>(value.size()));
  return raw(value);
}

WireWriter& WireWriter::raw(ByteView value) {
  out_.insert(out_.end(), value.begin(), value.end());
  return *this;
}

}  // namespace brokerkey::agent
