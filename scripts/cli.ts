export async function main(_argv: string[]): Promise<number> { process.stderr.write('edgewan-build: not implemented yet\n'); return 1; }
