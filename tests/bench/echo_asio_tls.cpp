// tests/bench/echo_asio_tls.cpp - Boost.Asio's TLS echo server: the same
// callback-style session as echo_asio.cpp over asio::ssl::stream (OpenSSL),
// one io_context run by one thread. --cert / --key are required.
#include "echo_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket s, asio::ssl::context &ctx) : stream_(std::move(s), ctx) {}
  void start() {
    auto self(shared_from_this());
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [this, self](boost::system::error_code ec) {
                              if (!ec)
                                do_read();
                            });
  }

private:
  void do_read() {
    auto self(shared_from_this());
    stream_.async_read_some(asio::buffer(buf_, sizeof buf_),
                            [this, self](boost::system::error_code ec, std::size_t n) {
                              if (!ec)
                                do_write(n);
                            });
  }
  void do_write(std::size_t n) {
    auto self(shared_from_this());
    asio::async_write(stream_, asio::buffer(buf_, n),
                      [this, self](boost::system::error_code ec, std::size_t) {
                        if (!ec)
                          do_read();
                      });
  }
  asio::ssl::stream<tcp::socket> stream_;
  char buf_[1 << 16];
};

void do_accept(tcp::acceptor &acc, asio::ssl::context &ctx) {
  acc.async_accept([&acc, &ctx](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<session>(std::move(s), ctx)->start();
    }
    do_accept(acc, ctx);
  });
}

} // namespace

int main(int argc, char **argv) {
  echo_args_t a;
  echo_parse(argc, argv, &a);
  if (!a.cert || !a.key) {
    std::fprintf(stderr, "%s: --cert and --key are required\n", argv[0]);
    return 2;
  }
  asio::io_context io(1);
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  ctx.use_certificate_chain_file(a.cert);
  ctx.use_private_key_file(a.key, asio::ssl::context::pem);
  tcp::acceptor acc(io, tcp::v4(), echo_listen(&a, 1));
  do_accept(acc, ctx);
  io.run();
  return 0;
}
