// The JavaScript guest `rustyray bench` measures (js_* rows): the same trivial task and
// actor as the Rust and Python bench guests, so the rows read beside them and Ray's.

import * as rustyray from "rustyray";

rustyray.remote(function noop() {
  return null;
});

rustyray.remote(function add_one(x) {
  return x + 1;
});

class Pinger {
  ping() {
    return null;
  }
}
rustyray.actor(Pinger);
