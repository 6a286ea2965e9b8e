// tests/bench/echo_asio.cpp - Boost.Asio's echo server, callback style (the
// async_read_some / async_write completion handlers of Asio's echo example),
// one io_context run by one thread.
#include "echo_server.h"

#include <boost/asio.hpp>

#include <memory>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket s) : sock_(std::move(s)) {}
  void start() { do_read(); }

private:
  void do_read() {
    auto self(shared_from_this());
    sock_.async_read_some(asio::buffer(buf_, sizeof buf_),
                          [this, self](boost::system::error_code ec, std::size_t n) {
                            if (!ec)
                              do_write(n);
                          });
  }
  void do_write(std::size_t n) {
    auto self(shared_from_this());
    asio::async_write(sock_, asio::buffer(buf_, n),
                      [this, self](boost::system::error_code ec, std::size_t) {
                        if (!ec)
                          do_read();
                      });
  }
  tcp::socket sock_;
  char buf_[1 << 16];
};

void do_accept(tcp::acceptor &acc) {
  acc.async_accept([&acc](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<session>(std::move(s))->start();
    }
    do_accept(acc);
  });
}

} // namespace

int main(int argc, char **argv) {
  echo_args_t a;
  echo_parse(argc, argv, &a);
  asio::io_context io(1); // concurrency hint 1: single-threaded, no locking
  // The same listening socket as the other servers.
  tcp::acceptor acc(io, tcp::v4(), echo_listen(&a, 1));
  do_accept(acc);
  io.run();
  return 0;
}
