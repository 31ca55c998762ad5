#include "reconciler/api/socket_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace ww {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

int DescriptorOf(BIO* bio) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio))); }

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

int BioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE for the process.
  ssize_t sent = send(DescriptorOf(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (sent < 0 && WouldBlock(errno)) BIO_set_retry_write(bio);
  return static_cast<int>(sent);
}

int BioRead(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t received = recv(DescriptorOf(bio), out, static_cast<std::size_t>(size), 0);
  if (received < 0 && WouldBlock(errno)) BIO_set_retry_read(bio);
  return static_cast<int>(received);
}

long BioControl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH || command == BIO_CTRL_DUP ? 1 : 0; }

int BioCreate(BIO*) { return 1; }
int BioDestroy(BIO*) { return 1; }  // the socket belongs to Asio, which closes it

// The socket BIO, minus SIGPIPE; created once and shared (OpenSSL never frees it).
const BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* created = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wirewarp socket");
    if (created == nullptr) return created;
    BIO_meth_set_write(created, BioWrite);
    BIO_meth_set_read(created, BioRead);
    BIO_meth_set_ctrl(created, BioControl);
    BIO_meth_set_create(created, BioCreate);
    BIO_meth_set_destroy(created, BioDestroy);
    return created;
  }();
  return method;
}

// The error of a failed OpenSSL call, with this thread's queue cleared for the next
// connection it serves.
error_code TlsError(int ssl_error) {
  error_code error;
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    error = asio::error::eof;
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    error = errno != 0 ? error_code(errno, boost::system::system_category()) : error_code(asio::error::eof);
  } else {
    unsigned long code = ERR_get_error();
    error = code != 0 ? error_code(static_cast<int>(code), asio::error::get_ssl_category())
                      : error_code(asio::error::connection_aborted);
  }
  ERR_clear_error();
  return error;
}

}  // namespace

SocketStream::SocketStream(Socket socket) : socket_(std::move(socket)) {}

SocketStream::~SocketStream() {
  if (tls_ != nullptr) SSL_free(tls_);
}

Status SocketStream::StartTls(ssl_ctx_st* context) {
  const BIO_METHOD* method = SocketBioMethod();
  if (method == nullptr) return Status::Internal("cannot create the TLS socket BIO");
  SSL* tls = SSL_new(context);
  if (tls == nullptr) return Status::Internal("cannot create a TLS session");
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(tls);
    return Status::Internal("cannot create a TLS socket BIO");
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
  BIO_set_init(bio, 1);
  SSL_set_bio(tls, bio, bio);  // one reference, owned by the session
  // Partial writes with a buffer that may move between retries: AsyncWriteAll's loop.
  SSL_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // HTTP frames every body by Content-Length: a missing close_notify is just the end.
  SSL_set_options(tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_set_accept_state(tls);
  error_code ignored;
  socket_.native_non_blocking(true, ignored);
  tls_ = tls;
  return Status::Ok();
}

void SocketStream::Finish(Callback done, const error_code& error, std::size_t transferred) {
  asio::post(socket_.get_executor(), [done = std::move(done), error, transferred] { done(error, transferred); });
}

void SocketStream::AsyncHandshake(Callback done) {
  if (tls_ == nullptr) return Finish(std::move(done), {}, 0);
  Step(Operation::kHandshake, nullptr, 0, 0, std::move(done));
}

void SocketStream::AsyncReadSome(char* data, std::size_t size, Callback done) {
  if (tls_ == nullptr) return socket_.async_read_some(asio::buffer(data, size), std::move(done));
  Step(Operation::kRead, data, size, 0, std::move(done));
}

void SocketStream::AsyncWriteAll(const char* data, std::size_t size, Callback done) {
  if (tls_ == nullptr) return asio::async_write(socket_, asio::buffer(data, size), std::move(done));
  // SSL_write never writes through the pointer; Step shares one signature for all three.
  Step(Operation::kWrite, const_cast<char*>(data), size, 0, std::move(done));
}

void SocketStream::Step(Operation operation, char* data, std::size_t size, std::size_t transferred, Callback done) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    std::size_t count = 0;
    int result = 0;
    switch (operation) {
      case Operation::kHandshake:
        result = SSL_do_handshake(tls_);
        break;
      case Operation::kRead:
        result = SSL_read_ex(tls_, data, size, &count);
        break;
      case Operation::kWrite:
        result = SSL_write_ex(tls_, data + transferred, size - transferred, &count);
        break;
    }
    if (result == 1) {
      transferred += count;
      if (operation != Operation::kWrite || transferred == size) return Finish(std::move(done), {}, transferred);
      continue;  // a partial write: the socket may take more at once
    }
    int ssl_error = SSL_get_error(tls_, result);
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
      return Finish(std::move(done), TlsError(ssl_error), transferred);
    }
    ERR_clear_error();
    auto wait = ssl_error == SSL_ERROR_WANT_READ ? Socket::wait_read : Socket::wait_write;
    // `this` lives as long as `done`: it holds the connection that owns this stream.
    socket_.async_wait(
        wait, [this, operation, data, size, transferred, done = std::move(done)](const error_code& error) mutable {
          if (error) return done(error, transferred);
          Step(operation, data, size, transferred, std::move(done));
        });
    return;
  }
}

void SocketStream::ShutdownSending() {
  if (tls_ != nullptr && SSL_is_init_finished(tls_)) {
    ERR_clear_error();
    SSL_shutdown(tls_);  // queues close_notify; the peer's is not awaited
    ERR_clear_error();
  }
  error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
}

void SocketStream::Close() {
  error_code ignored;
  socket_.close(ignored);
}

}  // namespace ww
