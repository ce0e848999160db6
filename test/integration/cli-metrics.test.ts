import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/client.ts';
import { createProject } from '../../src/db/queries/projects.ts';
import { createWorkflow, publishWorkflowVersion } from '../../src/db/queries/workflows.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createRuns, finishRuns } from '../helpers/log-lines.ts';
import { chain } from '../helpers/meshhook.ts';

let db: TestDatabase;
let workflowId: string;

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/meshhook.js', 'metrics', ...args], {
    env: { ...process.env, DATABASE_URL: db.url },
    encoding: 'utf8',
  });

beforeAll(async () => {
  db = await createTestDatabase();
  const projectId = await withTransaction(db.pool, async (tx) => {
    const project = await createProject(tx, { name: 'rebuild' });
    const workflow = await createWorkflow(tx, {
      projectId: project.id,
      slug: 'nightly',
      name: 'Nightly',
      definition: chain(),
    });
    await publishWorkflowVersion(tx, { workflowId: workflow.id, definition: chain() });
    workflowId = workflow.id;
    return project.id;
  });
  const runs = await createRuns(db.pool, { projectId, workflowId, count: 30 });
  // Finished over the last three days, one in five failing: the trigger counts them.
  for (const [i, run] of runs.entries()) {
    await finishRuns(db.pool, [run.runId], {
      status: i % 5 === 0 ? 'failed' : 'succeeded',
      at: new Date(Date.now() - i * 2.4 * 3_600_000),
      tookMs: 2_000,
    });
  }
});
afterAll(() => db.drop());

describe('meshhook metrics rebuild', () => {
  it('finds no difference between the rollups and the runs', () => {
    const result = cli('rebuild', '--check');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Counted 30 finished runs of all time again');
    expect(result.stdout).toContain('no differences');
  });

  it('reports what differs, corrects it, and then finds nothing', async () => {
    // Lose one day bucket and inflate an hour bucket, as a bug or a bad restore might.
    await db.pool.query(
      `delete from meshhook.run_metrics where grain = 'day'
       and bucket_start = (select min(bucket_start) from meshhook.run_metrics where grain = 'day')`,
    );
    await db.pool.query(
      `update meshhook.run_metrics set succeeded = succeeded + 2
       where ctid = (select ctid from meshhook.run_metrics where grain = 'hour' and succeeded > 0 limit 1)`,
    );

    const check = cli('rebuild', '--check', '--json');
    expect(check.status).toBe(1);
    const report = JSON.parse(check.stdout);
    expect(report.corrected).toBe(false);
    expect(report.differences.map((d: any) => d.grain).sort()).toEqual(
      expect.arrayContaining(['day', 'hour']),
    );
    const inflated = report.differences.find((d: any) => d.grain === 'hour');
    expect(inflated.stored.succeeded - inflated.expected.succeeded).toBe(2);

    const fixed = cli('rebuild');
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toMatch(/\d+ buckets differ/);
    expect(fixed.stdout).toContain('nightly');
    expect(fixed.stdout).toContain('Corrected');

    const again = cli('rebuild', '--check');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('no differences');
  });

  it('rebuilds a range of days', () => {
    const today = new Date().toISOString().slice(0, 10);
    const result = cli('rebuild', '--from', today, '--to', today, '--check', '--json');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ from: today, to: today, differences: [] });
    expect(report.runs).toBeGreaterThan(0);
    expect(report.runs).toBeLessThan(30);
  });

  it('answers bad arguments with usage and exit code 2', () => {
    for (const args of [['rebuild', '--from', 'last week'], ['rebuild', 'now'], ['recount']]) {
      const result = cli(...args);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('meshhook metrics rebuild');
    }
  });
});
