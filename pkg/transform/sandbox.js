// The sandbox prelude: run once in every new VM, before any user code, as
// a function called with the Engine's limits. It removes the builtins that
// allocate without bound in one call, wraps the builtins whose work or
// result grows with a number the code chooses (an array's length, a repeat
// count), and freezes every object reachable from the global object so
// that no call can leave state behind for the next one.
//
// Why wrappers: goja checks for an interrupt (the timeout) only between
// JavaScript instructions. A builtin written in Go runs to completion:
// new Array(2**26).fill(0) runs for half a minute and allocates gigabytes
// however soon the timeout fires. A wrapper written in JavaScript checks
// sizes before calling the builtin with primitive arguments (so a toString
// or a getter cannot change them between the check and the call), and a
// Go loop that calls a JavaScript function on every step can be
// interrupted.
(function (limits) {
  'use strict';
  const g = globalThis;
  const O = Object, R = Reflect;
  const defineProperty = O.defineProperty, getOwnPropertyDescriptor = O.getOwnPropertyDescriptor,
    getPrototypeOf = O.getPrototypeOf, freeze = O.freeze, apply = R.apply, ownKeys = R.ownKeys;
  const isArray = Array.isArray, RangeErr = RangeError, TypeErr = TypeError, Str = String, Num = Number;
  const MAXA = limits.maxArrayLength, MAXS = limits.maxStringLength, MAXD = limits.maxJSONDepth;
  const jsonDepth = limits.jsonDepth;

  function tooLong(what, max) {
    return new RangeErr(what + ' exceeds the sandbox limit of ' + max);
  }
  // lengthOf returns the length a builtin will read from an array-like,
  // refusing lengths that could change between two reads.
  function lengthOf(o) {
    // An array's length is always its own data property (Proxy is gone).
    if (isArray(o) || typeof o === 'string') return o.length;
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return 0;
    for (let p = o; p !== null; p = getPrototypeOf(p)) {
      const d = getOwnPropertyDescriptor(p, 'length');
      if (d === undefined) continue;
      if (!('value' in d)) throw new TypeErr('array-likes with a length getter are not supported');
      if (d.value === undefined) return 0;
      if (typeof d.value !== 'number') throw new TypeErr('the length of an array-like must be a number');
      return d.value;
    }
    return 0;
  }
  function checkLength(o) {
    if (lengthOf(o) > MAXA) throw tooLong('an array length', MAXA);
  }
  function checkString(n) {
    if (n > MAXS) throw tooLong('a string length', MAXS);
  }
  function wrap(obj, key, make) {
    const d = getOwnPropertyDescriptor(obj, key);
    if (d === undefined || typeof d.value !== 'function') return;
    const f = d.value;
    d.value = make(f);
    defineProperty(d.value, 'name', { value: f.name });
    defineProperty(obj, key, d);
  }

  // Whole-buffer allocations in one call, and Proxy, whose untrapped
  // operations let a Go loop run without calling back into JavaScript.
  for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Atomics', 'Proxy', 'WeakRef',
    'FinalizationRegistry', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
    delete g[name];
  }
  // The symbol registry is the one structure that outlives a call and that
  // code can grow: every Symbol.for('k' + i) would stay in the VM.
  delete Symbol.for;
  delete Symbol.keyFor;

  // Array methods loop over the length in Go: refuse long arrays.
  const AP = Array.prototype;
  const join = AP.join;
  // push, pop and at do work proportional to their arguments only.
  const apKeys = ownKeys(AP);
  for (let i = 0; i < apKeys.length; i++) {
    const k = apKeys[i];
    if (k === 'constructor' || k === 'push' || k === 'pop' || k === 'at') continue;
    wrap(AP, k, (f) => function () {
      if ((isArray(this) ? this.length : lengthOf(this)) > MAXA) throw tooLong('an array length', MAXA);
      return apply(f, this, arguments);
    });
  }
  // Results larger than their input: count before building them.
  const spreadable = Symbol.isConcatSpreadable;
  wrap(AP, 'concat', (f) => function (...args) {
    let n = lengthOf(this);
    for (const a of [this, ...args]) {
      // A getter could answer the check and the builtin differently.
      if (a !== null && (typeof a === 'object' || typeof a === 'function') && spreadable in a) {
        throw new TypeErr('Symbol.isConcatSpreadable is not supported');
      }
    }
    for (const a of args) n += isArray(a) ? lengthOf(a) : 1;
    if (n > MAXA) throw tooLong('an array length', MAXA);
    return apply(f, this, args);
  });
  wrap(AP, 'join', () => function (sep) {
    checkLength(this);
    const n = lengthOf(this);
    const s = sep === undefined ? ',' : Str(sep);
    let total = n > 0 ? (n - 1) * s.length : 0;
    checkString(total);
    const parts = [];
    for (let i = 0; i < n; i++) {
      const v = this[i];
      const t = v === undefined || v === null ? '' : Str(v);
      total += t.length;
      checkString(total);
      parts[i] = t;
    }
    return apply(join, parts, [s]);
  });
  wrap(AP, 'toLocaleString', () => function () {
    checkLength(this);
    const parts = [];
    for (let i = 0; i < lengthOf(this); i++) {
      const v = this[i];
      parts[i] = v === undefined || v === null ? '' : Str(v.toLocaleString());
    }
    return parts.join(',');
  });
  wrap(AP, 'flat', (f) => function (depth) {
    checkLength(this);
    const d = depth === undefined ? 1 : Num(depth);
    let count = 0;
    const walk = (a, level) => {
      for (let i = 0, n = lengthOf(a); i < n; i++) {
        const v = a[i];
        if (level > 0 && isArray(v)) walk(v, level - 1);
        else if (++count > MAXA) throw tooLong('an array length', MAXA);
      }
    };
    walk(this, d);
    return apply(f, this, [d]);
  });
  wrap(AP, 'flatMap', (f) => function (fn, thisArg) {
    checkLength(this);
    if (typeof fn !== 'function') return apply(f, this, [fn, thisArg]);
    let count = 0;
    return apply(f, this, [function (...a) {
      const r = apply(fn, this, a);
      count += isArray(r) ? lengthOf(r) : 1;
      if (count > MAXA) throw tooLong('an array length', MAXA);
      return r;
    }, thisArg]);
  });
  wrap(Array, 'from', (f) => function (items, ...rest) {
    if (items !== null && items !== undefined) checkLength(items);
    return apply(f, this, [items, ...rest]);
  });
  // An iterator's next in JavaScript makes the Go loops that consume
  // iterators (new Set, Object.fromEntries, spread) interruptible.
  const iterProto = getPrototypeOf([][Symbol.iterator]());
  wrap(iterProto, 'next', (f) => function () { return apply(f, this, []); });
  const strIterProto = getPrototypeOf(''[Symbol.iterator]());
  wrap(strIterProto, 'next', (f) => function () { return apply(f, this, []); });

  // Argument lists are copied in Go.
  wrap(Function.prototype, 'apply', () => function (thisArg, args) {
    if (args !== null && args !== undefined) checkLength(args);
    return apply(this, thisArg, args === null || args === undefined ? [] : args);
  });
  wrap(R, 'apply', (f) => function (fn, thisArg, args) { checkLength(args); return apply(f, this, [fn, thisArg, args]); });
  wrap(R, 'construct', (f) => function (fn, args, ...rest) { checkLength(args); return apply(f, this, [fn, args, ...rest]); });

  // String methods whose result length is a number the code chooses.
  const SP = String.prototype;
  wrap(SP, 'repeat', (f) => function (count) {
    const s = Str(this), c = Num(count);
    if (c > 0 && c < Infinity) checkString(s.length * c);
    return apply(f, s, [c]);
  });
  for (const name of ['padStart', 'padEnd']) {
    wrap(SP, name, (f) => function (maxLength, fill) {
      const s = Str(this), n = Num(maxLength);
      checkString(n);
      return apply(f, s, [n, fill === undefined ? undefined : Str(fill)]);
    });
  }
  wrap(SP, 'concat', (f) => function (...args) {
    const s = Str(this);
    const strs = args.map(Str);
    let n = s.length;
    for (const t of strs) n += t.length;
    checkString(n);
    return apply(f, s, strs);
  });
  // Strings longer than LONG get their matches counted first (below).
  const LONG = 65536;
  // Replacing: each match adds at most r.length characters, and each $
  // pattern in r at most s.length more; there are at most s.length+1
  // matches, or exactly as many as counting finds.
  // count returns the occurrences of sub in s, at most most+1.
  const count = (s, sub, most = MAXA) => {
    let n = 0;
    for (let i = s.indexOf(sub); i >= 0 && n <= most; i = s.indexOf(sub, i + 1)) n++;
    return n;
  };
  const replaceBound = (s, r, matches) => s.length + matches * (r.length + count(r, '$', Infinity) * s.length);
  const countingReplacer = (s, replacement) => {
    let total = s.length;
    return function (...a) {
      const r = Str(apply(replacement, this, a));
      total += r.length;
      checkString(total);
      return r;
    };
  };
  const replaceSym = Symbol.replace, matchSym = Symbol.match, splitSym = Symbol.split;
  const isRegExpLike = (p) => p !== null && p !== undefined && typeof p[replaceSym] === 'function';
  for (const name of ['replace', 'replaceAll']) {
    wrap(SP, name, (f) => function (pattern, replacement) {
      // A regular expression (or any object with Symbol.replace) does
      // the work in its own method, wrapped below.
      if (isRegExpLike(pattern)) return apply(f, this, [pattern, replacement]);
      const s = Str(this), p = Str(pattern);
      if (typeof replacement === 'function') return apply(f, s, [p, countingReplacer(s, replacement)]);
      let n = -1;
      if (name === 'replaceAll' && s.length > LONG) {
        n = p === '' ? s.length + 1 : count(s, p);
        if (n > MAXA) throw tooLong('the number of matches', MAXA);
      }
      const r = Str(replacement);
      if (replaceBound(s, r, name === 'replace' ? 1 : s.length + 1) > MAXS) {
        if (n < 0) n = name === 'replace' ? 1 : p === '' ? s.length + 1 : count(s, p);
        checkString(replaceBound(s, r, n));
      }
      return apply(f, s, [p, r]);
    });
  }
  // goja's global match, replace and split collect every match in Go
  // before anything else: about 150 bytes of garbage per character of a
  // long string, in one uninterruptible call. On long strings, count the
  // matches first with exec, one JavaScript call per match.
  const RP = RegExp.prototype, exec = RP.exec, NativeRegExp = RegExp;
  const countMatches = (re, s) => {
    const flags = Str(re.flags);
    const r = new NativeRegExp(re.source, flags.indexOf('g') < 0 ? flags + 'g' : flags);
    let n = 0;
    for (let m = apply(exec, r, [s]); m !== null; m = apply(exec, r, [s])) {
      if (++n > MAXA) throw tooLong('the number of matches', MAXA);
      if (m[0] === '') r.lastIndex++;
    }
    return n;
  };
  wrap(RP, replaceSym, (f) => function (str, replacement) {
    const s = Str(str), global = !!this.global;
    let n = global && s.length > LONG ? countMatches(this, s) : -1;
    if (typeof replacement === 'function') return apply(f, this, [s, countingReplacer(s, replacement)]);
    const r = Str(replacement);
    if (replaceBound(s, r, global ? s.length + 1 : 1) > MAXS) {
      if (n < 0) n = global ? countMatches(this, s) : 1;
      checkString(replaceBound(s, r, n));
    }
    return apply(f, this, [s, r]);
  });
  wrap(RP, matchSym, (f) => function (str) {
    const s = Str(str);
    if (this.global && s.length > LONG) countMatches(this, s);
    return apply(f, this, [s]);
  });
  // Splitting asks for at most one piece more than allowed.
  const splitLimit = (limit) => (limit === undefined ? MAXA + 1 : Math.min(limit >>> 0, MAXA + 1));
  const checkPieces = (a) => {
    if (a.length > MAXA) throw tooLong('an array length', MAXA);
    return a;
  };
  wrap(RP, splitSym, (f) => function (str, limit) {
    const s = Str(str);
    if (s.length > LONG) countMatches(this, s);
    return checkPieces(apply(f, this, [s, splitLimit(limit)]));
  });
  wrap(SP, 'split', (f) => function (separator, limit) {
    if (separator !== null && separator !== undefined && typeof separator[splitSym] === 'function') {
      return checkPieces(apply(f, this, [separator, splitLimit(limit)]));
    }
    const s = Str(this), sep = separator === undefined ? undefined : Str(separator);
    if (s.length > LONG && sep !== undefined && (sep === '' ? s.length : count(s, sep)) > MAXA) {
      throw tooLong('an array length', MAXA);
    }
    return checkPieces(apply(f, s, [sep, splitLimit(limit)]));
  });
  // matchAll's iterator steps in Go; one JavaScript call per step makes
  // the loops that consume it interruptible.
  wrap(getPrototypeOf(''.matchAll(/x/g)), 'next', (f) => function () { return apply(f, this, []); });
  wrap(String, 'raw', (f) => function (template, ...subs) {
    if (template !== null && template !== undefined) checkLength(template.raw);
    return apply(f, this, [template, ...subs]);
  });

  // JSON.parse recurses in Go, in time that grows faster than the depth.
  const parse = JSON.parse;
  wrap(JSON, 'parse', () => function (text, reviver) {
    const s = Str(text);
    if (jsonDepth(s) > MAXD) throw new SyntaxError('JSON nested deeper than the sandbox limit of ' + MAXD);
    return apply(parse, JSON, [s, reviver]);
  });

  // JSON.stringify can print a shared value many times: count as it goes.
  const stringify = JSON.stringify;
  function boundedStringify(value, replacer, space, max) {
    let allow;
    if (isArray(replacer)) {
      allow = new Set();
      for (const k of replacer) allow.add(Str(k));
    }
    let total = 0;
    return stringify(value, function (key, v) {
      if (allow !== undefined && key !== '' && !isArray(this) && !allow.has(key)) return undefined;
      if (typeof replacer === 'function') v = apply(replacer, this, [key, v]);
      total += key.length + 8 + (typeof v === 'string' ? v.length : 0);
      if (total > max) throw tooLong('the JSON text', max);
      return v;
    }, space);
  }
  wrap(JSON, 'stringify', () => function (value, replacer, space) {
    return boundedStringify(value, replacer, space, MAXS);
  });

  // No-op console, so that code with logging left in still runs.
  const noop = function () {};
  g.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop };

  // Frozen prototypes make an assignment to a property they hold fail
  // (JavaScript's "override mistake"): this.name = 'MyError' in an Error
  // subclass, obj.toString = f. For the properties that code commonly
  // assigns, an accessor takes the place of the data property; its setter
  // defines the property on the object assigned to.
  const tame = (proto, name) => {
    const d = getOwnPropertyDescriptor(proto, name);
    if (d === undefined || !('value' in d)) return;
    const value = d.value;
    defineProperty(proto, name, {
      get() { return value; },
      set(v) {
        if (this === proto) throw new TypeErr('Cannot assign to read only property \'' + name + '\' of a builtin');
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  const tamed = ['constructor', 'name', 'message', 'toString', 'toLocaleString', 'valueOf', 'toJSON'];
  const errorNames = ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError'];
  const protos = [O.prototype, AP, Function.prototype, SP, Date.prototype, RegExp.prototype];
  for (let i = 0; i < errorNames.length; i++) {
    if (typeof g[errorNames[i]] === 'function') protos[protos.length] = g[errorNames[i]].prototype;
  }
  for (let i = 0; i < protos.length; i++) {
    for (let j = 0; j < tamed.length; j++) tame(protos[i], tamed[j]);
  }

  // Freeze everything reachable from the global object.
  const seen = new Set();
  const harden = (o) => {
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) return;
    seen.add(o);
    freeze(o);
    harden(getPrototypeOf(o));
    // Index loops: for-of would go through the wrapped iterators.
    const keys = ownKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const d = getOwnPropertyDescriptor(o, keys[i]);
      if ('value' in d) harden(d.value);
      else { harden(d.get); harden(d.set); }
    }
  };
  // What the engine calls, kept out of the user's reach. The engine reads
  // the handler's result and thrown values only through these functions,
  // so that getters and toString methods in them run as JavaScript, under
  // the timeout, and their exceptions are ordinary exceptions.
  const typeName = (v) => (v === null ? 'null' : isArray(v) ? 'array' : typeof v);
  const internals = {
    parse,
    // extract returns the handler's result as primitives, or {invalid}.
    extract(res, maxOut) {
      if (res === null || typeof res !== 'object' || isArray(res)) {
        return { invalid: 'the handler must return the webhook object, not ' + typeName(res) };
      }
      const method = res.method, url = res.url, cancel = res.cancel, payload = res.payload, h = res.headers;
      if (typeof method !== 'string') return { invalid: 'method must be a string, not ' + typeName(method) };
      if (typeof url !== 'string') return { invalid: 'url must be a string, not ' + typeName(url) };
      if (cancel !== undefined && cancel !== null && typeof cancel !== 'boolean') {
        return { invalid: 'cancel must be a boolean, not ' + typeName(cancel) };
      }
      if (payload === undefined) return { invalid: 'payload is undefined' };
      let json;
      try {
        json = boundedStringify(payload, undefined, undefined, maxOut);
      } catch (e) {
        return { invalid: 'payload cannot be serialised to JSON: ' + (e instanceof Error ? e.message : 'exception') };
      }
      if (json === undefined) return { invalid: 'payload cannot be serialised to JSON: it is a ' + typeof payload };
      const headers = [];
      if (h !== undefined && h !== null) {
        if (typeof h !== 'object' || isArray(h)) return { invalid: 'headers must be an object, not ' + typeName(h) };
        for (const k of O.keys(h)) {
          const v = h[k];
          if (typeof v !== 'string') return { invalid: 'header ' + k + ' must be a string, not ' + typeName(v) };
          headers[headers.length] = k;
          headers[headers.length] = v;
        }
      }
      return { method, url, cancel: cancel === true, payload: json, headers };
    },
    // describe returns a thrown value's name and message.
    describe(e) {
      try {
        if (e instanceof Error) return [Str(e.name), Str(e.message)];
        return ['Error', 'uncaught ' + typeName(e) + ' ' + Str(e)];
      } catch (_) {
        return ['Error', 'uncaught exception'];
      }
    },
  };
  harden(internals);
  harden(g);
  return internals;
})
