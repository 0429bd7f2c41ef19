// Runs a proxy auto-config script the way a browser does: in a sandbox that holds only the PAC helper
// functions, then calls FindProxyForURL(url, host) for each URL. Usage:
//   node pac-harness.js script.pac dns.json url...     -> one JSON line {url, result} per URL
// dns.json maps host names to IPv4 addresses for dnsResolve (the browser's DNS lookup).
"use strict";
const fs = require("fs");
const vm = require("vm");
const [script, dnsFile, ...urls] = process.argv.slice(2);
const dns = JSON.parse(fs.readFileSync(dnsFile, "utf8"));
const toInt = ip => ip.split(".").reduce((a, b) => ((a << 8) >>> 0) + Number(b), 0) >>> 0;
const sandbox = {
  isPlainHostName: h => h.indexOf(".") === -1,
  dnsDomainIs: (h, d) => h.length >= d.length && h.substring(h.length - d.length) === d,
  localHostOrDomainIs: (h, d) => h === d || d.lastIndexOf(h + ".", 0) === 0,
  isResolvable: h => Object.prototype.hasOwnProperty.call(dns, h) || /^\d+\.\d+\.\d+\.\d+$/.test(h),
  dnsResolve: h => (/^\d+\.\d+\.\d+\.\d+$/.test(h) ? h : dns[h] || null),
  myIpAddress: () => "127.0.0.1",
  isInNet: (ip, pattern, mask) => {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) ip = dns[ip];
    if (!ip) return false;
    const m = toInt(mask);
    return ((toInt(ip) & m) >>> 0) === ((toInt(pattern) & m) >>> 0);
  },
  shExpMatch: (s, p) => new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(s),
  dnsDomainLevels: h => h.split(".").length - 1,
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(script, "utf8"), sandbox, { filename: script, timeout: 2000 });
if (typeof sandbox.FindProxyForURL !== "function") throw new Error("the script defines no FindProxyForURL");
for (const url of urls) {
  const host = new URL(url).hostname;
  console.log(JSON.stringify({ url, result: sandbox.FindProxyForURL(url, host) }));
}
