import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstClosedFolder } from './embedded.ts';

describe('firstClosedFolder', () => {
  let top: string;
  beforeAll(async () => {
    top = await mkdtemp(join(tmpdir(), 'meshhook-closed-'));
    await mkdir(join(top, 'open'), { mode: 0o755 });
  });
  afterAll(() => rm(top, { recursive: true, force: true }));

  it('names the folder other users may not enter on the way to a path', async () => {
    await chmod(top, 0o700);
    expect(await firstClosedFolder(join(top, 'open', 'data'))).toBe(top);
  });

  it('finds none when every folder lets others through, and stops at what does not exist', async () => {
    await chmod(top, 0o711);
    expect(await firstClosedFolder(join(top, 'open', 'not', 'yet'))).toBeUndefined();
  });
});
