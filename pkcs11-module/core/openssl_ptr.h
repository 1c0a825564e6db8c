// Owning pointers for the OpenSSL objects brokerkey uses, and the conversions between
// OpenSSL's types and brokerkey's.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/error.h"

namespace brokerkey {

template <auto Free>
struct OpensslDeleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509_free>>;

// Everything written to a memory BIO, as text.
inline std::string memory_bio_text(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// The DER of an OpenSSL object through its i2d function.
template <auto Encode, typename T>
Bytes der_encode(T* object) {
  unsigned char* der = nullptr;
  int length = Encode(object, &der);
  if (length <= 0) throw crypto_failed("DER encoding failed");
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

// A DER certificate, all of it; throws integrity_failed otherwise.
inline X509Ptr parse_x509(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) throw integrity_failed("not a DER X.509 certificate");
  return cert;
}

inline TimePoint to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) throw integrity_failed("invalid ASN.1 time");
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

}  // namespace brokerkey
