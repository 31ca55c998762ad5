#pragma once
// One accepted TCP connection of the front end, plain or TLS, with callback-style async
// operations. TLS runs OpenSSL directly on the socket's descriptor (through a small BIO that
// sends with MSG_NOSIGNAL) and waits for readiness with Asio, instead of asio::ssl::stream:
// that one keeps two 17 KiB buffers per connection (340 MB for 10,000 idle agents), while
// OpenSSL releases its own buffers between records (SSL_MODE_RELEASE_BUFFERS).
// Includes Boost.Asio: only the front end's .cc files include this header.
// Not thread-safe: one operation at a time, on the socket's executor (the connection's strand);
// callbacks run there too, never inside the call that starts the operation.

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <functional>

#include "schema/result.h"

struct ssl_st;
struct ssl_ctx_st;

namespace ww {

class SocketStream {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using Callback = std::function<void(const boost::system::error_code&, std::size_t)>;

  explicit SocketStream(Socket socket);
  ~SocketStream();
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;

  // Makes this a TLS server connection of `context` (before any other operation).
  Status StartTls(ssl_ctx_st* context);
  // The TLS session (peer certificate and its verify result), or null on plain TCP.
  ssl_st* tls() const { return tls_; }
  Socket& socket() { return socket_; }

  // TLS: the server side of the handshake. Plain: completes at once.
  void AsyncHandshake(Callback done);
  // Reads at least one byte (eof at the end of the stream).
  void AsyncReadSome(char* data, std::size_t size, Callback done);
  // Writes all `size` bytes; `data` must stay valid until `done`.
  void AsyncWriteAll(const char* data, std::size_t size, Callback done);
  // Sends TLS close_notify if the socket takes it now (never waits) and shuts the sending
  // side, so the peer reads the end of the stream after the last answer.
  void ShutdownSending();
  // Closes the socket; pending operations complete with operation_aborted.
  void Close();

 private:
  enum class Operation { kHandshake, kRead, kWrite };
  // One OpenSSL call for `operation`, then waits for the socket and calls itself again until
  // it completes (writes: until all bytes are written).
  void Step(Operation operation, char* data, std::size_t size, std::size_t transferred, Callback done);
  void Finish(Callback done, const boost::system::error_code& error, std::size_t transferred);

  Socket socket_;
  ssl_st* tls_ = nullptr;
};

}  // namespace ww
