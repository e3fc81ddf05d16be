/** `viewer`: who the API takes the caller for (handy when a token does not do what it should). */
import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { Allow } from '../auth/roles';
import { type Context } from '../context';
import { Viewer } from '../schema/viewer.type';

@Resolver()
export class ViewerResolver {
  @Authorized(Allow.viewer)
  @Query(() => Viewer, { description: 'The calling identity: subject, roles, accounts.' })
  viewer(@Ctx() ctx: Context): Viewer {
    const id = ctx.identity;
    return {
      subject: id.subject,
      roles: [...id.roles],
      accounts: [...id.accountCodes],
      expiresAt: id.expiresAt === null ? null : new Date(id.expiresAt),
    };
  }
}
