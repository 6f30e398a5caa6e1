// Independent reference for mintloom's folders: ipfs-unixfs-importer (as `ipfs add -r --cid-version 1
// --raw-leaves`) over every file of a local folder, wrapped in one directory.
// Usage: node unixfs_folder_reference.mjs DIR [SHARD_THRESHOLD] -> {"root": cid, "blocks": {cid: hex}}
// (the importer shards a folder, HAMT, when its links' name + CID bytes exceed the threshold)
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'

const dir = process.argv[2]
const shardSplitThresholdBytes = Number(process.argv[3] ?? 262144)
const blocks = {}
const blockstore = { put: async (cid, bytes) => { blocks[cid.toString()] = Buffer.from(bytes).toString('hex'); return cid } }
const files = readdirSync(dir).map((name) => ({ path: name, content: readFileSync(join(dir, name)) }))
let root
for await (const entry of importer(files, blockstore, {
  cidVersion: 1, rawLeaves: true, wrapWithDirectory: true, shardSplitThresholdBytes, shardSplitStrategy: 'links-bytes'
})) {
  root = entry.cid.toString()
}
process.stdout.write(JSON.stringify({ root, blocks }) + '\n')
