/** Egress enforcement: a squid proxy per sandbox and an nftables ruleset in its network namespace, both from the host. */
export { enforceEgress, reloadEgress, removeEgress, stopEgress, proxyFilesFor, applyRuleset, type EgressReport, type EnforceOptions } from './enforce.js';
export { nftRuleset, NFT_TABLE } from './nft-rules.js';
export { squidFiles, hostAcl, enforcedRules, PROXY_PORT, DENY_PAGE } from './squid-config.js';
export { javaProxyOptions, proxyEnvFile, toolProxyOptions } from './proxy-env.js';
export { proxyName, requireOwnProxy, LABEL_EGRESS } from './proxy.js';
export { egressCheck } from './check.js';
export { egressStatus, describeEgress, type EgressStatus } from './status.js';
export { egressLog, followEgressLog, parseLogLine, summarize, fixFor, formatEntry, parseSince, type EgressLogEntry, type ProxyRequest } from './log.js';
