// placeholder replaced by the build-pipeline work
export const TEST_RUNTIMES: string[] = [];
export async function testRuntimePath(_v: string): Promise<string> { throw new Error('not implemented'); }
