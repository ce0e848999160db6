import { Hono } from 'hono';
import { z } from 'zod';
import { validateChannel, type AlertChannel } from '../../core/alert-rules.ts';
import type { FieldProblem } from '../../core/field-problems.ts';
import { maskChannelConfig, restoreMaskedSecrets } from '../../core/mask-channel-config.ts';
import { withTenant } from '../../db/client.ts';
import {
  createChannel,
  deleteChannel,
  findChannel,
  isChannelNameTaken,
  listChannels,
  lockAlertNames,
  replaceChannel,
  type ChannelRow,
} from '../../db/queries/alert-config.ts';
import { ALERTS_CHANNEL } from '../../db/queries/alert-delivery.ts';
import { queueTestDelivery } from '../../db/queries/alert-log.ts';
import { AppError, notFound } from '../app-error.ts';
import { projectOf, requireRole } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { iso } from '../range.ts';
import { cursor, readQuery, uuidParam } from '../validate.ts';
import {
  invalidBody,
  isNameCursor,
  nameTaken,
  omitKeys,
  pageOf,
  pageQuery,
  problemsWithin,
  readBody,
  writing,
} from './alert-input.ts';

/** Fields of a channel answer that a body may carry back; they are ignored. */
const READ_ONLY = [
  'id',
  'has_secret',
  'created_at',
  'updated_at',
  'last_status',
  'last_attempt_at',
  'last_error',
  'failing_since',
] as const;

/** A channel as the API shows it: credentials masked, the outcome of its last delivery. */
export function channelJson(c: ChannelRow) {
  const masked = maskChannelConfig({ type: c.type, config: c.config } as AlertChannel);
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    config: masked.config,
    has_secret: masked.hasSecret,
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
    last_status: c.lastStatus,
    last_attempt_at: iso(c.lastAttemptAt),
    last_error: c.lastError,
    failing_since: iso(c.failingSince),
  };
}

/**
 * Checks a channel body (`at` its place in a larger one): read-only fields dropped, a masked
 * credential sent back unchanged replaced by `stored`'s, then validateChannel.
 */
export function checkChannel(
  body: unknown,
  options: { stored?: ChannelRow; at: string },
): { channel?: AlertChannel; problems: FieldProblem[] } {
  const stored =
    options.stored &&
    ({ type: options.stored.type, config: options.stored.config } as AlertChannel);
  const restored = restoreMaskedSecrets(omitKeys(body, READ_ONLY), { stored });
  const checked = validateChannel(restored.value);
  // A masked value that matches nothing is the one problem of its field, not also "too short".
  const flagged = new Set(restored.problems.map((p) => p.path));
  const problems = [
    ...restored.problems,
    ...(checked.ok ? [] : checked.error.filter((p) => !flagged.has(p.path))),
  ];
  if (problems.length > 0) return { problems: problemsWithin(options.at, problems) };
  return { channel: checked.ok ? checked.value : undefined, problems };
}

const listSchema = z.object(pageQuery);

/**
 * /api/alerts/channels: where alerts go. Members and above read them (credentials masked),
 * admins and owners create, replace, delete and test them.
 */
export function alertChannelRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', requireRole('member'), async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, isNameCursor);
    const rows = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      listChannels(db, {
        projectId: projectOf(c),
        limit: query.limit + 1,
        ...(after ? { after } : {}),
      }),
    );
    const page = pageOf(rows, query.limit, (r) => ({ name: r.name, id: r.id }));
    return c.json({ items: page.items.map(channelJson), next_cursor: page.nextCursor });
  });

  app.post('/', requireRole('admin'), async (c) => {
    const { channel, problems } = checkChannel(await readBody(c), { at: '' });
    if (!channel) throw invalidBody(problems);
    const projectId = projectOf(c);
    const created = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      await lockAlertNames(db, projectId);
      if (await isChannelNameTaken(db, { projectId, name: channel.name })) {
        throw nameTaken('channel', channel.name);
      }
      return createChannel(db, { projectId, channel });
    });
    return c.json(channelJson(created), 201);
  });

  app.get('/:id', requireRole('member'), async (c) => {
    const id = uuidParam(c, 'id', 'channel');
    const found = await withTenant(deps.pool, c.get('caller').claims, (db) => findChannel(db, id));
    if (!found) throw notFound('channel');
    return c.json(channelJson(found));
  });

  app.put('/:id', requireRole('admin'), async (c) => {
    const id = uuidParam(c, 'id', 'channel');
    const body = await readBody(c);
    const projectId = projectOf(c);
    const replaced = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const stored = await findChannel(db, id);
      if (!stored) throw notFound('channel');
      const { channel, problems } = checkChannel(body, { stored, at: '' });
      if (!channel) throw invalidBody(problems);
      await lockAlertNames(db, projectId);
      if (await isChannelNameTaken(db, { projectId, name: channel.name, exceptId: id })) {
        throw nameTaken('channel', channel.name);
      }
      return replaceChannel(db, { id, channel });
    });
    if (!replaced) throw notFound('channel');
    return c.json(channelJson(replaced));
  });

  app.delete('/:id', requireRole('admin'), async (c) => {
    const id = uuidParam(c, 'id', 'channel');
    const outcome = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      deleteChannel(db, id),
    );
    if (outcome === 'not_found') throw notFound('channel');
    if (outcome !== 'deleted') {
      throw new AppError(
        'conflict',
        `the channel is used by ${outcome.inUse.length} rule(s); remove it from them first`,
        { rules: outcome.inUse },
      );
    }
    return c.body(null, 204);
  });

  app.post('/:id/test', requireRole('admin'), async (c) => {
    const id = uuidParam(c, 'id', 'channel');
    const deliveryId = await writing(() =>
      withTenant(deps.pool, c.get('caller').claims, (db) => queueTestDelivery(db, id)),
    );
    if (!deliveryId) throw notFound('channel');
    deps.notifier.send(ALERTS_CHANNEL, 'test');
    return c.json({ delivery_id: deliveryId }, 202);
  });

  return app;
}
