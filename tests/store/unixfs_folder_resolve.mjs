// Independent reader for mintloom's folders: ipfs-unixfs-exporter (the JS IPFS stack's path
// walker, flat directories and HAMT shards) over the given blocks only.
// Usage: node unixfs_folder_resolve.mjs < {"root": cid, "blocks": {cid: hex}, "names": [...]}
//        -> {"listing": {name: cid} of every entry of the folder,
//            "resolved": {name: cid of ipfs://<root>/<name>, or null when there is no such name}}
import { readFileSync } from 'node:fs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'

const input = JSON.parse(readFileSync(0, 'utf8'))
const store = new MemoryBlockstore()
for (const [cid, hex] of Object.entries(input.blocks)) {
  await store.put(CID.parse(cid), Buffer.from(hex, 'hex'))
}
const listing = {}
const folder = await exporter(input.root, store)
for await (const entry of folder.entries()) {
  listing[entry.name] = entry.cid.toString()
}
const resolved = {}
for (const name of input.names) {
  try {
    resolved[name] = (await exporter(`${input.root}/${name}`, store)).cid.toString()
  } catch (err) {
    if (err.name !== 'NotFoundError' && err.code !== 'ERR_NOT_FOUND') throw err
    resolved[name] = null
  }
}
process.stdout.write(JSON.stringify({ listing, resolved }) + '\n')
