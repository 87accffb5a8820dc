// The tls probe: TCP connect, TLS handshake with OpenSSL (non-blocking, bounded by the deadline),
// then the certificates. The handshake is completed whatever the chain (SSL_VERIFY_NONE) so that
// expiry is reported even for an untrusted chain; OpenSSL still verifies the chain and the host
// name, and SSL_get_verify_result says whether that succeeded.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include "base/fd.h"
#include "monitor/probe_internal.h"

namespace steward::monitor::internal {
namespace {

constexpr double kSecondsPerDay = 86400;

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};


// Writes to a socket the peer closed raise SIGPIPE; a probe must not kill the daemon. Blocks it
// for this thread and swallows one that became pending meanwhile (as libcurl does).
class NoSigpipe {
 public:
  NoSigpipe() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~NoSigpipe() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    timespec zero{0, 0};
    while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_{};
};

std::string OpenSslError(const char* what) {
  unsigned long e = ERR_get_error();
  if (e == 0) return what;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::unique_ptr<SSL_CTX, CtxDeleter> NewContext(const config::Monitor& m, std::string* error) {
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *error = OpenSslError("cannot create a TLS context");
    return nullptr;
  }
  SSL_CTX_set_default_verify_paths(ctx.get());
  if (!m.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), m.ca_file.c_str(), nullptr) != 1) {
    *error = OpenSslError(("cannot load ca_file '" + m.ca_file + "'").c_str());
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // judged after the handshake
  return ctx;
}

// SNI and the name the chain is verified for.
void SetPeerName(SSL* ssl, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpLiteral(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  }
}

bool Handshake(SSL* ssl, int fd, SteadyTime deadline, const ProbeContext& context,
               std::string* error) {
  while (true) {
    ERR_clear_error();
    int rc = SSL_connect(ssl);
    if (rc == 1) return true;
    int why = SSL_get_error(ssl, rc);
    if (why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE) {
      *error = OpenSslError("TLS handshake failed");
      if (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        *error = "TLS handshake failed: the server closed the connection";
      }
      return false;
    }
    short events = why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    bool ready = false;
    while (!ready && !Cancelled(context) && Remaining(deadline).count() > 0) {
      pollfd p{fd, events, 0};
      int left = static_cast<int>(std::min<int64_t>(Remaining(deadline).count(), 50));
      ready = poll(&p, 1, left) != 0;
    }
    if (!ready) {
      *error = Cancelled(context) ? "TLS handshake cancelled" : "TLS handshake timed out";
      return false;
    }
  }
}

double ToUnixSeconds(const ASN1_TIME* t) {
  tm parts{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return 0;
  return static_cast<double>(timegm(&parts));
}

void Inspect(SSL* ssl, const config::Monitor& m, ProbeResult* result) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) {
    result->error = "the server sent no certificate";
    return;
  }
  double leaf_expiry = ToUnixSeconds(X509_get0_notAfter(leaf));
  double earliest = leaf_expiry;
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      earliest = std::min(earliest, ToUnixSeconds(X509_get0_notAfter(sk_X509_value(chain, i))));
    }
  }
  long verify = SSL_get_verify_result(ssl);
  bool chain_valid = verify == X509_V_OK;
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double days_left = (leaf_expiry - now) / kSecondsPerDay;
  result->extra = {{"probe_ssl_earliest_cert_expiry", earliest},
                   {"probe_tls_days_left", days_left},
                   {"probe_tls_chain_valid", chain_valid ? 1 : 0}};
  if (!chain_valid) {
    result->error =
        std::string("certificate chain not valid: ") + X509_verify_cert_error_string(verify);
  } else if (days_left < m.min_days_valid) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "certificate expires in %.1f days, fewer than min_days_valid %d",
                  days_left, m.min_days_valid);
    result->error = buf;
  } else {
    result->success = true;
  }
}

}  // namespace

void ProbeTls(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
              ProbeResult* result) {
  std::string host;
  std::string port;
  if (!SplitHostPort(monitor.target, &host, &port)) {
    result->error = "target '" + monitor.target + "' is not host:port";
    return;
  }
  ERR_clear_error();  // the error queue is per thread; start from a clean one
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx = NewContext(monitor, &result->error);
  if (!ctx) return;
  Fd fd(ConnectTcp(host, port, deadline, context, &result->error));
  if (fd.get() < 0) return;
  NoSigpipe no_sigpipe;
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) {
    result->error = OpenSslError("cannot start TLS");
    return;
  }
  SetPeerName(ssl.get(), monitor.server_name.empty() ? host : monitor.server_name);
  if (!Handshake(ssl.get(), fd.get(), deadline, context, &result->error)) return;
  result->error.clear();
  Inspect(ssl.get(), monitor, result);
  SSL_shutdown(ssl.get());  // best effort close_notify; the socket is non-blocking
  ERR_clear_error();
}

}  // namespace steward::monitor::internal
