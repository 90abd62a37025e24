"""An agency's members, fetched and changed through the platform's own stores (the decisions are
`console.membership`'s): the users in the box's IdP (`box.idp_api`: the agency's groups), the invitations in the
registry (`state.invitations`), every change in the registry's audit log, and the invitation mailed through the box's
own Postfix with the console's SMTP login (`mail_conf.CONSOLE_LOGIN`, its password in the box's secrets)."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.console_conf import SMTP_PASSWORD
from govcloud_platform.box.services.mail_conf import CONSOLE_LOGIN, CONSOLE_SENDER, mail_domain
from govcloud_platform.console import membership
from govcloud_platform.console.membership import ADMIN, Member
from govcloud_platform.errors import ConflictError, ServiceError
from govcloud_platform.names import admins_group, group, parse_login
from govcloud_platform.state import invitations as store
from govcloud_platform.state.invitations import Invitation
from govcloud_platform.state.registry import AgencyRecord, Registry


class MailFailed(ServiceError):
    """The invitation could not be submitted to the box's mail server (it is withdrawn)."""


@dataclass
class Staff:
    box: Box

    # --- members (the IdP) ------------------------------------------------------------------------
    def members(self, slug: str) -> list[Member]:
        """The users in the agency's group, with their role, by login."""
        admins = admins_group(slug)
        return [Member(u["login"], u["mail"], u["name"], ADMIN if admins in u["groups"] else membership.MEMBER)
                for u in idp_api.group_members(self.box, group(slug))]

    def set_role(self, slug: str, target: str, role: str, actor: str) -> None:
        if role == ADMIN:
            idp_api.add_membership(self.box, target, admins_group(slug))
        else:
            idp_api.remove_membership(self.box, target, admins_group(slug))
        self._audit("member role", f"{slug}", role, actor, f"{target}: {role}")

    def remove(self, slug: str, target: str, actor: str) -> None:
        """The agency's own users (`<local>@<slug>`) are deleted from the IdP (their sign-in fails at once; sessions
        already open end with their tokens); anyone else only leaves the agency's groups."""
        owner = parse_login(target)
        if owner is not None and owner[0] == slug:
            idp_api.remove_user(self.box, target)
        else:
            idp_api.remove_membership(self.box, target, admins_group(slug))
            idp_api.remove_membership(self.box, target, group(slug))
        self._audit("member remove", slug, "removed", actor, target)

    # --- invitations (the registry) -----------------------------------------------------------------
    def invitations(self, slug: str) -> list[Invitation]:
        registry = Registry(self.box.home)
        try:
            return store.of_agency(registry, slug)
        finally:
            registry.close()

    def invitation(self, slug: str, invitation_id: int) -> Invitation | None:
        registry = Registry(self.box.home)
        try:
            found = store.get(registry, invitation_id)
        finally:
            registry.close()
        return found if found is not None and found.agency == slug else None

    def by_token(self, token: str) -> Invitation | None:
        if not membership.well_formed_token(token):
            return None
        registry = Registry(self.box.home)
        try:
            return store.by_token_hash(registry, membership.token_hash(token))
        finally:
            registry.close()

    def invite(self, agency: AgencyRecord, email: str, role: str, inviter: str, actor: str, link_base: str
               ) -> Invitation:
        """Store a pending invitation (409 when one for the address waits) and mail its link (`link_base` +
        the token); a mail that cannot be submitted withdraws it and raises MailFailed."""
        now = dt.datetime.now(dt.UTC)
        at = membership.stamp(now)
        token, digest = membership.new_token()
        registry = Registry(self.box.home)
        try:
            pending = [(i.email, i.expires_at) for i in store.of_agency(registry, agency.slug)
                       if i.state == store.PENDING]
            conflict = membership.invitation_conflict(email, pending, at)
            if conflict:
                raise ConflictError(conflict)
            made = store.create(registry, agency.slug, email, role, digest, inviter, membership.expiry(now))
            try:
                self._mail(email, *membership.mail_text(agency.name, link_base + token, inviter, made.expires_at))
            except (OSError, smtplib.SMTPException, ssl.SSLError, ServiceError) as exc:
                store.revoke(registry, made.id, "mail failed")
                registry.audit("member invite", agency.slug, "mail failed", actor,
                               f"invitation {made.id} to {email}: {type(exc).__name__}")
                raise MailFailed(f"the invitation could not be mailed ({type(exc).__name__}); it is withdrawn",
                                 hint="see `govcloud logs mail`") from None
            registry.audit("member invite", agency.slug, "mailed", actor, f"invitation {made.id} to {email} as {role}")
            return made
        finally:
            registry.close()

    def resend(self, agency: AgencyRecord, invitation: Invitation, inviter: str, actor: str, link_base: str
               ) -> Invitation:
        """Send a waiting invitation again with a new link (a new token, valid INVITATION_DAYS from now; the old link
        opens nothing any more), mailed as `invite` mails it. ConflictError when it is no longer usable (used,
        withdrawn or expired: invite again); a mail that cannot be submitted puts the old link back (nothing
        changed) and raises MailFailed."""
        now = dt.datetime.now(dt.UTC)
        token, digest = membership.new_token()
        registry = Registry(self.box.home)
        try:
            old = store.reissue(registry, invitation.id, digest, membership.expiry(now), membership.stamp(now))
            made = store.get(registry, invitation.id)
            if old is None or made is None:
                raise ConflictError(f"the invitation for {invitation.email} was used, withdrawn or has expired: "
                                    "invite again")
            try:
                self._mail(made.email, *membership.mail_text(agency.name, link_base + token, inviter, made.expires_at))
            except (OSError, smtplib.SMTPException, ssl.SSLError, ServiceError) as exc:
                store.put_back(registry, made.id, digest, old)
                registry.audit("member reinvite", agency.slug, "mail failed", actor,
                               f"invitation {made.id} to {made.email}: {type(exc).__name__}")
                raise MailFailed(f"the invitation could not be mailed again ({type(exc).__name__}); its earlier link "
                                 "still works", hint="see `govcloud logs mail`") from None
            registry.audit("member reinvite", agency.slug, "mailed", actor,
                           f"invitation {made.id} to {made.email}: a new link, the earlier one void")
            return made
        finally:
            registry.close()

    def revoke(self, slug: str, invitation_id: int, actor: str) -> bool:
        registry = Registry(self.box.home)
        try:
            done = store.revoke(registry, invitation_id, actor)
            if done:
                registry.audit("member uninvite", slug, "revoked", actor, f"invitation {invitation_id}")
            return done
        finally:
            registry.close()

    def accept(self, invitation: Invitation, login: str, password: str, name: str) -> str:
        """Use the invitation once: claim it, then create the IdP user in the agency's group (and its
        administrators' for the role admin). "ok"; "gone" when it was used, withdrawn or expired meanwhile;
        "taken" when the login exists (the invitation is usable again). The IdP's failure releases it and raises."""
        registry = Registry(self.box.home)
        try:
            if not store.claim(registry, invitation.id, login, membership.stamp(dt.datetime.now(dt.UTC))):
                return "gone"
            groups = [group(invitation.agency)] + ([admins_group(invitation.agency)] if invitation.role == ADMIN
                                                   else [])
            try:
                made = idp_api.create_user(self.box, login, password, invitation.email, name, groups)
            except Exception:
                store.release(registry, invitation.id)
                raise
            if not made:
                store.release(registry, invitation.id)
                return "taken"
            registry.audit("member join", invitation.agency, "created", f"console:{login}",
                           f"invitation {invitation.id}: {login} as {invitation.role}")
            return "ok"
        finally:
            registry.close()

    # --- plumbing -----------------------------------------------------------------------------------
    def _audit(self, command: str, target: str, result: str, actor: str, detail: str) -> None:
        registry = Registry(self.box.home)
        try:
            registry.audit(command, target, result, actor, detail)
        finally:
            registry.close()

    def _mail(self, to: str, subject: str, body: str) -> None:
        send_mail(self.box, to, subject, body)


def send_mail(box: Box, to: str, subject: str, body: str) -> None:
    """Submit a message from the console through the box's Postfix: STARTTLS checked against the box CA, then AUTH
    as the console (`console@<mail domain>`). Invitations and the decisions on onboarding requests use it."""
    password = box.secrets.get(SMTP_PASSWORD)
    if not password:
        raise ServiceError("the console has no SMTP login yet", hint="run `govcloud up`")
    domain = mail_domain(box.spec)
    msg = EmailMessage()
    msg["From"] = f"govcloud console <{CONSOLE_SENDER}@{domain}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(box.name_of("mail"), box.ports.smtp, timeout=15) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=str(box.ca_file)))
        smtp.login(CONSOLE_LOGIN, password)
        smtp.send_message(msg, from_addr=f"{CONSOLE_SENDER}@{domain}", to_addrs=[to])
