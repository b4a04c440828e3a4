// Package rediskey is the one definition of how Frontdoor names its Redis
// keys, shared by identity, session, botdefense and consent so that their
// layouts cannot drift apart while the packages stay independent of each
// other.
//
// Every key starts with a deployment prefix (DefaultPrefix unless the
// operator sets one), so several deployments can share a Redis. Keys that
// belong to one customer continue with the hash tag {u:<id>} (UserTag): on
// Redis Cluster they all hash to one slot, which keeps a multi-key update of
// one customer (MULTI/EXEC or a script) atomic. For that to hold:
//
//   - an id placed in a tag must pass ValidID (letters, digits, '_' and
//     '-'), so no id can close the tag early;
//   - the prefix must not contain '{' or '}', or the tag inside it would put
//     every customer in one slot.
//
// The key families under the prefix, and the package that owns each:
//
//	{u:<id>}:customer, {u:<id>}:audit   identity (identity/redis.go)
//	{u:<id>}:tokens, erasures           identity (identity/redis_erase.go)
//	email:<email>, tok:<kind>:<hash>    identity
//	{u:<id>}:s:<hash>, {u:<id>}:sessions session (session/redis.go)
//	{u:<id>}:consent                    consent records (consent/redis.go);
//	                                    an erased customer's under {u:<pseudonym>}
//	secret:<name>                       session
//	ended:<hash>                        session ended marks (session/redis_ended.go)
//	wh:{<webhook>}:q|tries|dead|lease   webhook outbox (events/redis.go)
//	rl…                                 botdefense rate counters (counter.go)
//	blocks                              botdefense block list (blocks.go)
//	pow:<id>                            single-use values spent (botdefense.RedisSeen):
//	                                    challenge solutions; pow:dpop:<hash> DPoP proofs'
//	                                    jti; pow:client-assertion:<hash> client assertions'
//
// A new family takes a name no other starts with.
package rediskey
