// cms_check SIGNATURE CONTENT PUBLIC_KEY.pem
// cms_check recertify SIGNATURE CERT.pem > FORGED
//   The same signer's signed attributes and signature, under another certificate for the same
//   key (any certificate: CMS verification uses only its key): what a signer who can use the
//   key but not change the ledger could send. Written with OpenSSL's CMS API.
// Checks a detached CMS signature from brokerkey-gpgsm with OpenSSL primitives only, none of
// brokerkey's code: walks the DER by hand (RFC 5652 section 5), takes the signed attributes as
// they were transmitted, recomputes SHA-512 over the content and compares it with the
// messageDigest attribute, verifies the Ed25519 signature over the attributes (re-tagged as
// SET OF, section 5.4) with the certificate's key, and compares that key with the broker key.
#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept { Free(p); }
};
void free_openssl(void* p) { OPENSSL_free(p); }
template <typename T, auto Free>
using Owned = std::unique_ptr<T, Deleter<Free>>;

[[noreturn]] void fail(const std::string& why) {
  std::cout << "cms_check: FAIL: " << why << "\n";
  std::exit(1);
}

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(std::string("cannot read ") + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One DER element: where it starts, its header and body.
struct Element {
  const unsigned char* start = nullptr;
  const unsigned char* body = nullptr;
  long length = 0;
  int tag = 0;
  int tag_class = 0;
  const unsigned char* end() const { return body + length; }
  std::size_t size() const { return static_cast<std::size_t>(end() - start); }
};

// Reads the element at `p` (advancing past it) and requires its tag and class.
Element next(const unsigned char*& p, const unsigned char* limit, int tag, int tag_class, const char* what) {
  Element e;
  e.start = p;
  e.body = p;
  int ret = ASN1_get_object(&e.body, &e.length, &e.tag, &e.tag_class, limit - p);
  if ((ret & 0x80) || e.tag != tag || e.tag_class != tag_class || e.end() > limit) fail(std::string("expected ") + what);
  p = e.end();
  return e;
}

std::string oid_text(const Element& e) {
  const unsigned char* p = e.start;
  ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(e.size()));
  char text[80] = {};
  if (oid) OBJ_obj2txt(text, sizeof text, oid, 1);
  ASN1_OBJECT_free(oid);
  return text;
}

constexpr int U = V_ASN1_UNIVERSAL, C = V_ASN1_CONTEXT_SPECIFIC;

}  // namespace

static int recertify(const char* signature_path, const char* certificate_path) {
  std::string armored = read_file(signature_path);
  Owned<BIO, BIO_free> bio(BIO_new_mem_buf(armored.data(), static_cast<int>(armored.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long der_length = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &der, &der_length) != 1) fail("not PEM");
  Owned<char, free_openssl> owned_name(name), owned_header(header);
  Owned<unsigned char, free_openssl> owned_der(der);
  const unsigned char* p = der;
  Owned<CMS_ContentInfo, CMS_ContentInfo_free> genuine(d2i_CMS_ContentInfo(nullptr, &p, der_length));
  if (!genuine) fail("not a CMS");
  CMS_SignerInfo* old_signer = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(genuine.get()), 0);

  std::string certificate_pem = read_file(certificate_path);
  Owned<BIO, BIO_free> cert_bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  Owned<X509, X509_free> certificate(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) fail("not a PEM certificate");

  Owned<CMS_ContentInfo, CMS_ContentInfo_free> forged(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY));
  CMS_SignerInfo* signer = forged ? CMS_add1_signer(forged.get(), certificate.get(), X509_get0_pubkey(certificate.get()),
                                                    EVP_sha512(), CMS_PARTIAL | CMS_NOSMIMECAP)
                                  : nullptr;
  if (!signer) fail("cannot start the CMS");
  for (int i = 0; i < CMS_signed_get_attr_count(old_signer); ++i) {
    if (CMS_signed_add1_attr(signer, CMS_signed_get_attr(old_signer, i)) != 1) fail("cannot copy an attribute");
  }
  X509_ALGOR* algorithm = nullptr;
  CMS_SignerInfo_get0_algs(signer, nullptr, nullptr, nullptr, &algorithm);
  const ASN1_OCTET_STRING* signature = CMS_SignerInfo_get0_signature(old_signer);
  if (X509_ALGOR_set0(algorithm, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, nullptr) != 1 ||
      ASN1_STRING_set(CMS_SignerInfo_get0_signature(signer), ASN1_STRING_get0_data(signature),
                      ASN1_STRING_length(signature)) != 1) {
    fail("cannot set the signature");
  }
  unsigned char* out = nullptr;
  int out_length = i2d_CMS_ContentInfo(forged.get(), &out);
  if (out_length <= 0) fail("cannot encode");
  Owned<unsigned char, free_openssl> owned_out(out);
  Owned<BIO, BIO_free> stdout_bio(BIO_new_fp(stdout, BIO_NOCLOSE));
  if (PEM_write_bio(stdout_bio.get(), "SIGNED MESSAGE", "", out, out_length) <= 0) fail("cannot write");
  return 0;
}


int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "recertify") == 0) return recertify(argv[2], argv[3]);
  if (argc != 4) fail("usage: cms_check SIGNATURE CONTENT PUBLIC_KEY.pem");
  std::string armored = read_file(argv[1]);
  std::string content = read_file(argv[2]);

  Owned<BIO, BIO_free> bio(BIO_new_mem_buf(armored.data(), static_cast<int>(armored.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long der_length = 0;
  int read = PEM_read_bio(bio.get(), &name, &header, &der, &der_length);
  Owned<char, free_openssl> owned_name(name), owned_header(header);
  Owned<unsigned char, free_openssl> owned_der(der);
  if (read != 1 || std::strcmp(name, "SIGNED MESSAGE") != 0) fail("not a PEM 'SIGNED MESSAGE'");
  const unsigned char* p = der;
  const unsigned char* limit = der + der_length;
  Element content_info = next(p, limit, V_ASN1_SEQUENCE, U, "ContentInfo");
  p = content_info.body;
  if (oid_text(next(p, content_info.end(), V_ASN1_OBJECT, U, "contentType")) != "1.2.840.113549.1.7.2") {
    fail("not SignedData");
  }
  Element explicit_content = next(p, content_info.end(), 0, C, "[0] content");
  p = explicit_content.body;
  Element signed_data = next(p, explicit_content.end(), V_ASN1_SEQUENCE, U, "SignedData");
  p = signed_data.body;
  next(p, signed_data.end(), V_ASN1_INTEGER, U, "version");
  next(p, signed_data.end(), V_ASN1_SET, U, "digestAlgorithms");
  Element encap = next(p, signed_data.end(), V_ASN1_SEQUENCE, U, "encapContentInfo");
  const unsigned char* q = encap.body;
  if (oid_text(next(q, encap.end(), V_ASN1_OBJECT, U, "eContentType")) != "1.2.840.113549.1.7.1") fail("not id-data");
  if (q != encap.end()) fail("the content is attached, not detached");
  Element certificates = next(p, signed_data.end(), 0, C, "[0] certificates");
  Element signer_infos = next(p, signed_data.end(), V_ASN1_SET, U, "signerInfos");

  // The first certificate carries the key (brokerkey-gpgsm includes exactly one).
  const unsigned char* cert_der = certificates.body;
  Owned<X509, X509_free> cert(d2i_X509(nullptr, &cert_der, certificates.length));
  if (!cert) fail("the certificate does not parse");

  p = signer_infos.body;
  Element signer = next(p, signer_infos.end(), V_ASN1_SEQUENCE, U, "SignerInfo");
  if (p != signer_infos.end()) fail("more than one signer");
  p = signer.body;
  next(p, signer.end(), V_ASN1_INTEGER, U, "SignerInfo version");
  next(p, signer.end(), V_ASN1_SEQUENCE, U, "issuerAndSerialNumber");
  Element digest_algorithm = next(p, signer.end(), V_ASN1_SEQUENCE, U, "digestAlgorithm");
  q = digest_algorithm.body;
  if (oid_text(next(q, digest_algorithm.end(), V_ASN1_OBJECT, U, "digest OID")) != "2.16.840.1.101.3.4.2.3") {
    fail("the digest is not SHA-512");
  }
  Element signed_attributes = next(p, signer.end(), 0, C, "[0] signedAttrs");
  Element signature_algorithm = next(p, signer.end(), V_ASN1_SEQUENCE, U, "signatureAlgorithm");
  q = signature_algorithm.body;
  if (oid_text(next(q, signature_algorithm.end(), V_ASN1_OBJECT, U, "signature OID")) != "1.3.101.112") {
    fail("the signature algorithm is not id-Ed25519");
  }
  if (q != signature_algorithm.end()) fail("id-Ed25519 with parameters");
  Element signature = next(p, signer.end(), V_ASN1_OCTET_STRING, U, "signature");

  // The messageDigest attribute against SHA-512 of the content.
  Bytes message_digest;
  for (q = signed_attributes.body; q < signed_attributes.end();) {
    Element attribute = next(q, signed_attributes.end(), V_ASN1_SEQUENCE, U, "Attribute");
    const unsigned char* r = attribute.body;
    std::string type = oid_text(next(r, attribute.end(), V_ASN1_OBJECT, U, "attribute type"));
    Element values = next(r, attribute.end(), V_ASN1_SET, U, "attribute values");
    if (type == "1.2.840.113549.1.9.4") {
      r = values.body;
      Element value = next(r, values.end(), V_ASN1_OCTET_STRING, U, "messageDigest value");
      message_digest.assign(value.body, value.end());
    }
  }
  unsigned char digest[64];
  unsigned int digest_length = 0;
  EVP_Digest(content.data(), content.size(), digest, &digest_length, EVP_sha512(), nullptr);
  if (message_digest.size() != 64 || std::memcmp(message_digest.data(), digest, 64) != 0) {
    fail("messageDigest is not SHA-512 of the content");
  }

  // RFC 5652 5.4: the signature covers the attributes with an explicit SET OF tag.
  Bytes to_verify(signed_attributes.start, signed_attributes.end());
  to_verify[0] = 0x31;
  EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  Owned<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  if (!cert_key || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, cert_key) != 1 ||
      EVP_DigestVerify(ctx.get(), signature.body, static_cast<std::size_t>(signature.length), to_verify.data(),
                       to_verify.size()) != 1) {
    fail("the Ed25519 signature over the signed attributes does not verify with the certificate's key");
  }

  FILE* key_file = std::fopen(argv[3], "r");
  Owned<EVP_PKEY, EVP_PKEY_free> broker_key(key_file ? PEM_read_PUBKEY(key_file, nullptr, nullptr, nullptr) : nullptr);
  if (key_file) std::fclose(key_file);
  if (!broker_key || EVP_PKEY_eq(broker_key.get(), cert_key) != 1) fail("the certificate's key is not the broker key");

  std::cout << "cms_check: OK: SHA-512 messageDigest matches, Ed25519 signature over "
            << to_verify.size() << " bytes of signed attributes verifies with the broker key\n";
  return 0;
}
