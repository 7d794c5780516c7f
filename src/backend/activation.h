// Darknet's activation functions and their exact derivatives, as inline scalar functions shared
// by the CPU backend and the CUDA kernels (so both compute the same thing).
#pragma once
#include <cmath>
#include <string>

#include "base/random.h"  // RPG_HD

namespace rpg {

enum class Act : int {
  Linear, Relu, Leaky, Logistic, Tanh, Elu, Relie, Ramp, Plse, Lhtan, Stair, Hardtan, Loggy,
  Selu, Swish, Mish,
};

// All names in cfg spelling, in enum order.
inline const char* const* act_names(int* count) {
  static const char* const names[] = {"linear", "relu", "leaky", "logistic", "tanh", "elu",
                                      "relie", "ramp", "plse", "lhtan", "stair", "hardtan",
                                      "loggy", "selu", "swish", "mish"};
  *count = int(sizeof(names) / sizeof(names[0]));
  return names;
}
inline std::string act_name(Act a) {
  int n;
  return act_names(&n)[int(a)];
}

// True when the derivative needs the pre-activation value x rather than the output y.
inline bool act_needs_input(Act a) { return a == Act::Swish || a == Act::Mish || a == Act::Stair; }

RPG_HD inline float act_softplus(float x) {
  return x > 20.f ? x : (x < -20.f ? expf(x) : log1pf(expf(x)));
}

RPG_HD inline float act_apply(Act a, float x) {
  switch (a) {
    case Act::Linear: return x;
    case Act::Relu: return x > 0 ? x : 0;
    case Act::Leaky: return x > 0 ? x : .1f * x;
    case Act::Logistic: return 1.f / (1.f + expf(-x));
    case Act::Tanh: return tanhf(x);
    case Act::Elu: return x >= 0 ? x : expf(x) - 1;
    case Act::Relie: return x > 0 ? x : .01f * x;
    case Act::Ramp: return x * (x > 0) + .1f * x;
    case Act::Plse:
      if (x < -4) return .01f * (x + 4);
      if (x > 4) return .01f * (x - 4) + 1;
      return .125f * x + .5f;
    case Act::Lhtan:
      if (x < 0) return .001f * x;
      if (x > 1) return .001f * (x - 1) + 1;
      return x;
    case Act::Stair: {
      float n = floorf(x);
      if (fmodf(n, 2.f) == 0) return floorf(x / 2);
      return (x - n) + floorf(x / 2);
    }
    case Act::Hardtan: return x < -1 ? -1 : (x > 1 ? 1 : x);
    case Act::Loggy: return 2.f / (1.f + expf(-x)) - 1;
    case Act::Selu: return x >= 0 ? 1.0507f * x : 1.0507f * 1.6732f * (expf(x) - 1);
    case Act::Swish: return x / (1.f + expf(-x));
    case Act::Mish: return x * tanhf(act_softplus(x));
  }
  return x;
}

// d act / d x, given the input x and the output y = act_apply(a, x).
RPG_HD inline float act_gradient(Act a, float x, float y) {
  switch (a) {
    case Act::Linear: return 1;
    case Act::Relu: return y > 0 ? 1.f : 0.f;
    case Act::Leaky: return y > 0 ? 1.f : .1f;
    case Act::Logistic: return (1 - y) * y;
    case Act::Tanh: return 1 - y * y;
    case Act::Elu: return y >= 0 ? 1.f : y + 1;
    case Act::Relie: return y > 0 ? 1.f : .01f;
    case Act::Ramp: return (y > 0 ? 1.f : 0.f) + .1f;
    case Act::Plse: return (y < 0 || y > 1) ? .01f : .125f;
    case Act::Lhtan: return (y > 0 && y < 1) ? 1.f : .001f;
    case Act::Stair: return fmodf(floorf(x), 2.f) == 0 ? 0.f : 1.f;
    case Act::Hardtan: return (y > -1 && y < 1) ? 1.f : 0.f;
    case Act::Loggy: {
      float s = (y + 1) / 2;
      return 2 * (1 - s) * s;
    }
    case Act::Selu: return y >= 0 ? 1.0507f : y + 1.0507f * 1.6732f;
    case Act::Swish: {
      float s = 1.f / (1.f + expf(-x));
      return s + x * s * (1 - s);
    }
    case Act::Mish: {
      float sp = act_softplus(x), t = tanhf(sp), s = 1.f / (1.f + expf(-x));
      return t + x * (1 - t * t) * s;
    }
  }
  return 1;
}

}  // namespace rpg
