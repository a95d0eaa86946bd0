//! Authorization matrix: every conversation, message and media endpoint tried by every kind of
//! caller, with the exact status API.md gives for each cell (`401` anonymous, `404` for whoever
//! may not see the resource, `403` for a member without the role, `400` for an operation that
//! does not apply, else the success status).
//!
//! Each cell runs against a scene of its own (a fresh group, or fresh messages in the one direct
//! conversation of the pair), so that destructive actions (removing members, deleting
//! messages) never change what another cell sees. The users are shared: they cost a password
//! hash each, conversations and messages cost nothing.
//!
//! On failure the whole table is printed, expected against got, so that every wrong cell shows
//! at once.

use std::{collections::HashMap, fmt::Write as _, io::Cursor};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_client::{Client, SendMessageRequest};

use crate::helpers::*;

/// `(what, method, path template, JSON body template, expected status per role)`.
///
/// Templates name the scene's ids in braces: `{conv}` the conversation, `{other_msg}` a text
/// message of another member (`target`, a plain member that none of the callers is),
/// `{own_msg}` the caller's own message (for callers who never sent one there: `target`'s),
/// `{image_msg}` and `{media}` an image `target` sent there, `{owner}`, `{admin}`, `{target}`,
/// `{extra}` (a user in no conversation) the users' ids, `{spare_session}` a session of
/// `target`'s.
type Row<const N: usize> = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    [u16; N],
);

/// The callers of the group table, in column order.
const GROUP_ROLES: [&str; 7] = [
    "owner",
    "admin",
    "member",
    "newcomer",
    "removed",
    "non_member",
    "anonymous",
];

/// A group: `owner` created it with `admin` (promoted), `member`, `removed` and `target`; each
/// of the first four and `target` sent a message, `target` an image too; then the owner removed
/// `removed` and added `newcomer`, who then sent a message of its own. The newcomer sees none of
/// the messages sent before it joined (API.md: "A member that joined later sees only the seqs
/// after its join point"), so they and the image they carry are `404` for it. `non_member` was
/// never in it.
#[rustfmt::skip]
const GROUP_ROWS: &[Row<7>] = &[
    //                                                                                                                  owner admin member newcmr removed non_mem anon
    ("get the conversation",          "GET",    "/api/v1/conversations/{conv}",                    None,                            [200, 200, 200, 200, 404, 404, 401]),
    ("get an unknown conversation",   "GET",    "/api/v1/conversations/0190f0f0-0000-7000-8000-000000000000", None,                [404, 404, 404, 404, 404, 404, 401]),
    ("rename the group",              "PATCH",  "/api/v1/conversations/{conv}",                    Some(r#"{"name":"renamed"}"#),   [200, 200, 403, 403, 404, 404, 401]),
    ("add a member",                  "POST",   "/api/v1/conversations/{conv}/members",            Some(r#"{"user_id":"{extra}"}"#), [200, 200, 403, 403, 404, 404, 401]),
    ("add an admin",                  "POST",   "/api/v1/conversations/{conv}/members",            Some(r#"{"user_id":"{extra}","role":"admin"}"#), [200, 200, 403, 403, 404, 404, 401]),
    ("remove a plain member",         "DELETE", "/api/v1/conversations/{conv}/members/{target}",   None,                            [204, 204, 403, 403, 404, 404, 401]),
    ("remove the admin (self: leave)", "DELETE", "/api/v1/conversations/{conv}/members/{admin}",   None,                            [204, 204, 403, 403, 404, 404, 401]),
    ("remove the owner (self: leave)", "DELETE", "/api/v1/conversations/{conv}/members/{owner}",   None,                            [204, 403, 403, 403, 404, 404, 401]),
    ("leave (members/me)",            "DELETE", "/api/v1/conversations/{conv}/members/me",         None,                            [204, 204, 204, 204, 404, 404, 401]),
    ("promote a member to admin",     "PATCH",  "/api/v1/conversations/{conv}/members/{target}",   Some(r#"{"role":"admin"}"#),     [200, 403, 403, 403, 404, 404, 401]),
    ("demote the admin",              "PATCH",  "/api/v1/conversations/{conv}/members/{admin}",    Some(r#"{"role":"member"}"#),    [200, 403, 403, 403, 404, 404, 401]),
    ("change the owner's role",       "PATCH",  "/api/v1/conversations/{conv}/members/{owner}",    Some(r#"{"role":"member"}"#),    [400, 403, 403, 403, 404, 404, 401]),
    ("list messages",                 "GET",    "/api/v1/conversations/{conv}/messages",           None,                            [200, 200, 200, 200, 404, 404, 401]),
    ("send a message",                "POST",   "/api/v1/conversations/{conv}/messages",           Some(r#"{"text":"hello"}"#),     [201, 201, 201, 201, 404, 404, 401]),
    ("send typing",                   "POST",   "/api/v1/conversations/{conv}/typing",             Some(r#"{"typing":true}"#),      [204, 204, 204, 204, 404, 404, 401]),
    ("get another's message",         "GET",    "/api/v1/messages/{other_msg}",                    None,                            [200, 200, 200, 404, 404, 404, 401]),
    ("get one's own message",         "GET",    "/api/v1/messages/{own_msg}",                      None,                            [200, 200, 200, 200, 404, 404, 401]),
    ("edit another's message",        "PATCH",  "/api/v1/messages/{other_msg}",                    Some(r#"{"text":"edited"}"#),    [403, 403, 403, 404, 404, 404, 401]),
    ("edit one's own message",        "PATCH",  "/api/v1/messages/{own_msg}",                      Some(r#"{"text":"edited"}"#),    [200, 200, 200, 200, 404, 404, 401]),
    ("delete another's message",      "DELETE", "/api/v1/messages/{other_msg}",                    None,                            [204, 204, 403, 404, 404, 404, 401]),
    ("delete another's, ?for=everyone", "DELETE", "/api/v1/messages/{other_msg}?for=everyone",     None,                            [204, 204, 403, 404, 404, 404, 401]),
    ("delete one's own message",      "DELETE", "/api/v1/messages/{own_msg}",                      None,                            [204, 204, 204, 204, 404, 404, 401]),
    ("delete another's ?for=me",      "DELETE", "/api/v1/messages/{other_msg}?for=me",             None,                            [204, 204, 204, 404, 404, 404, 401]),
    ("delete one's own ?for=me",      "DELETE", "/api/v1/messages/{own_msg}?for=me",               None,                            [204, 204, 204, 204, 404, 404, 401]),
    ("mark another's delivered",      "PUT",    "/api/v1/messages/{other_msg}/delivered",          None,                            [204, 204, 204, 404, 404, 404, 401]),
    ("mark another's read",           "PUT",    "/api/v1/messages/{other_msg}/read",               None,                            [204, 204, 204, 404, 404, 404, 401]),
    ("mark one's own read",           "PUT",    "/api/v1/messages/{own_msg}/read",                 None,                            [204, 204, 204, 204, 404, 404, 401]),
    ("receipts of another's",         "GET",    "/api/v1/messages/{other_msg}/receipts",           None,                            [200, 200, 200, 404, 404, 404, 401]),
    ("receipts of one's own",         "GET",    "/api/v1/messages/{own_msg}/receipts",             None,                            [200, 200, 200, 200, 404, 404, 401]),
    ("react to another's",            "PUT",    "/api/v1/messages/{other_msg}/reactions/%F0%9F%91%8D", None,                        [204, 204, 204, 404, 404, 404, 401]),
    ("take back a reaction",          "DELETE", "/api/v1/messages/{other_msg}/reactions/%F0%9F%91%8D", None,                        [204, 204, 204, 404, 404, 404, 401]),
    ("who reacted to another's",      "GET",    "/api/v1/messages/{other_msg}/reactions",          None,                            [200, 200, 200, 404, 404, 404, 401]),
    ("search the conversation",       "GET",    "/api/v1/search?q=hello&conversation_id={conv}",   None,                            [200, 200, 200, 200, 404, 404, 401]),
    ("get the image message",         "GET",    "/api/v1/messages/{image_msg}",                    None,                            [200, 200, 200, 404, 404, 404, 401]),
    ("download the image",            "GET",    "/api/v1/media/{media}",                           None,                            [200, 200, 200, 404, 404, 404, 401]),
    ("download its thumbnail",        "GET",    "/api/v1/media/{media}/thumbnail",                 None,                            [200, 200, 200, 404, 404, 404, 401]),
    // No conversation role applies to these: every signed-in caller is alike.
    ("list one's conversations",      "GET",    "/api/v1/conversations",                           None,                            [200, 200, 200, 200, 200, 200, 401]),
    ("get a user",                    "GET",    "/api/v1/users/{target}",                          None,                            [200, 200, 200, 200, 200, 200, 401]),
    ("list one's blocks",             "GET",    "/api/v1/users/me/blocks",                         None,                            [200, 200, 200, 200, 200, 200, 401]),
    ("search every conversation",     "GET",    "/api/v1/search?q=hello",                          None,                            [200, 200, 200, 200, 200, 200, 401]),
    ("block a user",                  "PUT",    "/api/v1/users/me/blocks/{extra}",                 None,                            [204, 204, 204, 204, 204, 204, 401]),
    ("unblock a user",                "DELETE", "/api/v1/users/me/blocks/{extra}",                 None,                            [204, 204, 204, 204, 204, 204, 401]),
    ("block an unknown user",         "PUT",    "/api/v1/users/me/blocks/no-such-user",            None,                            [404, 404, 404, 404, 404, 404, 401]),
    ("revoke another's session",      "DELETE", "/api/v1/sessions/{spare_session}",                None,                            [404, 404, 404, 404, 404, 404, 401]),
];

/// The callers of the direct table, in column order: `participant` (`member`, talking with
/// `target`), `non_participant` (`non_member`), anonymous.
const DIRECT_ROLES: [&str; 3] = ["participant", "non_participant", "anonymous"];

/// The direct conversation of `member` and `target`; each sent a message, `target` an image too.
#[rustfmt::skip]
const DIRECT_ROWS: &[Row<3>] = &[
    //                                                                                                                  part. non-p anon
    ("get the conversation",          "GET",    "/api/v1/conversations/{conv}",                    None,                            [200, 404, 401]),
    ("rename it",                     "PATCH",  "/api/v1/conversations/{conv}",                    Some(r#"{"name":"renamed"}"#),   [400, 404, 401]),
    ("add a member",                  "POST",   "/api/v1/conversations/{conv}/members",            Some(r#"{"user_id":"{extra}"}"#), [400, 404, 401]),
    ("remove the other participant",  "DELETE", "/api/v1/conversations/{conv}/members/{target}",   None,                            [400, 404, 401]),
    ("leave (members/me)",            "DELETE", "/api/v1/conversations/{conv}/members/me",         None,                            [400, 404, 401]),
    ("change the other's role",       "PATCH",  "/api/v1/conversations/{conv}/members/{target}",   Some(r#"{"role":"admin"}"#),     [400, 404, 401]),
    ("list messages",                 "GET",    "/api/v1/conversations/{conv}/messages",           None,                            [200, 404, 401]),
    ("send a message",                "POST",   "/api/v1/conversations/{conv}/messages",           Some(r#"{"text":"hello"}"#),     [201, 404, 401]),
    ("send typing",                   "POST",   "/api/v1/conversations/{conv}/typing",             Some(r#"{"typing":true}"#),      [204, 404, 401]),
    ("get the other's message",       "GET",    "/api/v1/messages/{other_msg}",                    None,                            [200, 404, 401]),
    ("get one's own message",         "GET",    "/api/v1/messages/{own_msg}",                      None,                            [200, 404, 401]),
    ("edit the other's message",      "PATCH",  "/api/v1/messages/{other_msg}",                    Some(r#"{"text":"edited"}"#),    [403, 404, 401]),
    ("edit one's own message",        "PATCH",  "/api/v1/messages/{own_msg}",                      Some(r#"{"text":"edited"}"#),    [200, 404, 401]),
    ("delete the other's message",    "DELETE", "/api/v1/messages/{other_msg}",                    None,                            [403, 404, 401]),
    ("delete one's own message",      "DELETE", "/api/v1/messages/{own_msg}",                      None,                            [204, 404, 401]),
    ("delete the other's ?for=me",    "DELETE", "/api/v1/messages/{other_msg}?for=me",             None,                            [204, 404, 401]),
    ("mark the other's delivered",    "PUT",    "/api/v1/messages/{other_msg}/delivered",          None,                            [204, 404, 401]),
    ("mark the other's read",         "PUT",    "/api/v1/messages/{other_msg}/read",               None,                            [204, 404, 401]),
    ("receipts of the other's",       "GET",    "/api/v1/messages/{other_msg}/receipts",           None,                            [200, 404, 401]),
    ("react to the other's",          "PUT",    "/api/v1/messages/{other_msg}/reactions/%F0%9F%91%8D", None,                        [204, 404, 401]),
    ("who reacted to the other's",    "GET",    "/api/v1/messages/{other_msg}/reactions",          None,                            [200, 404, 401]),
    ("search the conversation",       "GET",    "/api/v1/search?q=hello&conversation_id={conv}",   None,                            [200, 404, 401]),
    ("get the image message",         "GET",    "/api/v1/messages/{image_msg}",                    None,                            [200, 404, 401]),
    ("download the image",            "GET",    "/api/v1/media/{media}",                           None,                            [200, 404, 401]),
    ("download its thumbnail",        "GET",    "/api/v1/media/{media}/thumbnail",                 None,                            [200, 404, 401]),
];

/// The callers of the admin table: `owner` signed up first, so it is the server's admin;
/// `member` is a plain user.
const ADMIN_ROLES: [&str; 3] = ["owner", "member", "anonymous"];

/// The admin endpoints: the server's admin only (API.md: "Admin (`403` for others)").
#[rustfmt::skip]
const ADMIN_ROWS: &[Row<3>] = &[
    //                                                                                                                  admin user anon
    ("list every account",            "GET",    "/api/v1/admin/users",                             None,                            [200, 403, 401]),
    ("create an account",             "POST",   "/api/v1/admin/users",                             Some(r#"{"username":"made_by_admin","password":"correct horse"}"#), [201, 403, 401]),
    ("change an account",             "PATCH",  "/api/v1/admin/users/{target}",                    Some(r#"{"admin":false}"#),      [200, 403, 401]),
    ("change an unknown account",     "PATCH",  "/api/v1/admin/users/0190f0f0-0000-7000-8000-000000000000", Some(r#"{"admin":false}"#), [404, 403, 401]),
    ("the server's stats",            "GET",    "/api/v1/admin/stats",                             None,                            [200, 403, 401]),
];

/// The users every scene is made of, signed up once per server.
struct Cast {
    anon: Client,
    clients: HashMap<&'static str, Client>,
    ids: HashMap<&'static str, String>,
    /// A second session of `target`'s, for the session row.
    spare_session: String,
    /// The direct conversation of `member` and `target`.
    direct: String,
}

impl Cast {
    async fn new(app: &TestApp) -> Self {
        let mut clients = HashMap::new();
        let mut ids = HashMap::new();
        for name in [
            "owner",
            "admin",
            "member",
            "newcomer",
            "removed",
            "non_member",
            "target",
            "extra",
        ] {
            let (client, user) = app.user(name).await;
            clients.insert(name, client);
            ids.insert(name, user.id);
        }
        let (_, spare) = app.login("target", Some("spare")).await;
        let direct = clients["member"]
            .direct(&ids["target"])
            .await
            .expect("the direct conversation")
            .value
            .id;
        Self {
            anon: app.anon(),
            clients,
            ids,
            spare_session: spare.session_id,
            direct,
        }
    }

    fn client(&self, name: &str) -> &Client {
        &self.clients[name]
    }

    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }
}

/// The ids one cell's templates are filled with.
struct Scene {
    vars: HashMap<&'static str, String>,
    /// Each sender's own message, by role.
    own: HashMap<&'static str, String>,
}

impl Scene {
    /// `template` with the scene's ids, `{own_msg}` being `caller`'s own message.
    fn fill(&self, template: &str, caller: &str) -> String {
        let mut out = template.to_owned();
        for (k, v) in &self.vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        let own = self.own.get(caller).unwrap_or(&self.vars["other_msg"]);
        out.replace("{own_msg}", own)
    }
}

/// A small PNG (an image, so that it has a thumbnail).
fn png() -> Vec<u8> {
    let img = RgbImage::from_fn(40, 30, |x, y| Rgb([(x * 6) as u8, (y * 8) as u8, 128]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("a PNG encodes");
    out.into_inner()
}

/// `target` uploads a PNG and sends it into `conv`: `(image message id, media id)`.
async fn send_image(cast: &Cast, conv: &str) -> (String, String) {
    let target = cast.client("target");
    let media = target
        .upload(png(), "image/png", Some("picture.png"))
        .await
        .expect("the upload");
    assert!(media.has_thumbnail, "a PNG gets a thumbnail: {media:?}");
    let msg = target
        .send_message(
            conv,
            &SendMessageRequest {
                kind: Some("image".into()),
                media_id: Some(media.id.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("the image message")
        .value;
    (msg.id, media.id)
}

/// The ids that do not depend on the conversation.
fn common_vars(cast: &Cast) -> HashMap<&'static str, String> {
    let mut vars = HashMap::new();
    for name in ["owner", "admin", "target", "extra"] {
        vars.insert(name, cast.id(name).to_owned());
    }
    vars.insert("spare_session", cast.spare_session.clone());
    vars
}

/// A fresh group as [`GROUP_ROWS`] describes it.
async fn group_scene(cast: &Cast) -> Scene {
    let owner = cast.client("owner");
    let members = ["admin", "member", "removed", "target"].map(|n| cast.id(n));
    let conv = owner
        .create_group("authz", &members)
        .await
        .expect("the group")
        .id;
    owner
        .set_role(&conv, cast.id("admin"), "admin")
        .await
        .expect("the admin is promoted");
    let other = cast
        .client("target")
        .send_text(&conv, "target's message")
        .await
        .expect("target's message")
        .id;
    let (image_msg, media) = send_image(cast, &conv).await;
    let mut own = HashMap::new();
    for role in ["owner", "admin", "member", "removed"] {
        let msg = cast
            .client(role)
            .send_text(&conv, &format!("{role}'s message"))
            .await
            .unwrap_or_else(|e| panic!("{role}'s message: {e}"));
        own.insert(role, msg.id);
    }
    owner
        .remove_member(&conv, cast.id("removed"))
        .await
        .expect("the member is removed");
    owner
        .add_member(&conv, cast.id("newcomer"), None)
        .await
        .expect("the newcomer is added");
    let newcomers = cast
        .client("newcomer")
        .send_text(&conv, "newcomer's message")
        .await
        .expect("the newcomer's message");
    own.insert("newcomer", newcomers.id);
    let mut vars = common_vars(cast);
    vars.insert("conv", conv);
    vars.insert("other_msg", other);
    vars.insert("image_msg", image_msg);
    vars.insert("media", media);
    Scene { vars, own }
}

/// Fresh messages in the direct conversation, as [`DIRECT_ROWS`] describes it.
async fn direct_scene(cast: &Cast) -> Scene {
    let conv = cast.direct.clone();
    let other = cast
        .client("target")
        .send_text(&conv, "target's message")
        .await
        .expect("target's message")
        .id;
    let (image_msg, media) = send_image(cast, &conv).await;
    let own = cast
        .client("member")
        .send_text(&conv, "member's message")
        .await
        .expect("member's message")
        .id;
    let mut vars = common_vars(cast);
    vars.insert("conv", conv);
    vars.insert("other_msg", other);
    vars.insert("image_msg", image_msg);
    vars.insert("media", media);
    Scene {
        vars,
        own: HashMap::from([("participant", own)]),
    }
}

/// The client a role calls with.
fn caller<'a>(cast: &'a Cast, role: &str) -> &'a Client {
    match role {
        "anonymous" => &cast.anon,
        "participant" => cast.client("member"),
        "non_participant" => cast.client("non_member"),
        other => cast.client(other),
    }
}

/// The error code API.md pairs with an error status.
fn code_for(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        _ => return None,
    })
}

/// What one cell got: its status, and whether an error answer carried the wrong code.
struct Got {
    status: u16,
    bad_code: Option<String>,
}

/// Tries `row` as `role` in `scene`.
async fn try_cell<const N: usize>(cast: &Cast, scene: &Scene, row: &Row<N>, role: &str) -> Got {
    let (_, method, path, body, _) = row;
    let client = caller(cast, role);
    let path = scene.fill(path, role);
    let body = body.map(|b| ("application/json", scene.fill(b, role).into_bytes()));
    let resp = client
        .raw(method, &path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} as {role}: {e}"));
    let bad_code = code_for(resp.status).and_then(|want| {
        let got = resp.json()["error"]["code"].as_str().map(str::to_owned);
        (got.as_deref() != Some(want)).then(|| format!("{got:?}"))
    });
    Got {
        status: resp.status,
        bad_code,
    }
}

/// Runs every cell of `rows`, each on a scene `scene` makes, and fails with the whole table if
/// any cell is wrong.
async fn run_table<const N: usize, F, Fut>(
    title: &str,
    cast: &Cast,
    roles: [&str; N],
    rows: &[Row<N>],
    scene: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Scene>,
{
    let mut table = Vec::new();
    let mut wrong = Vec::new();
    for row in rows {
        let (what, method, path, _, expect) = row;
        let mut cells = Vec::new();
        for (role, want) in roles.iter().zip(expect) {
            let got = try_cell(cast, &scene().await, row, role).await;
            if got.status != *want {
                wrong.push(format!(
                    "{what} ({method} {path}) as {role}: expected {want}, got {}",
                    got.status
                ));
            } else if let Some(code) = &got.bad_code {
                wrong.push(format!(
                    "{what} ({method} {path}) as {role}: {want} with the error code {code}"
                ));
            }
            cells.push(match (got.status == *want, &got.bad_code) {
                (true, None) => format!("{want}"),
                (true, Some(_)) => format!("{want} code!"),
                (false, _) => format!("{want}≠{} ✗", got.status),
            });
        }
        table.push((format!("{what}: {method} {path}"), cells));
    }
    let cells_checked = rows.len() * N;
    eprintln!(
        "{title}: {} rows × {N} roles = {cells_checked} cells",
        rows.len()
    );
    if wrong.is_empty() {
        return;
    }
    let first = table
        .iter()
        .map(|(r, _)| r.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{title} (expected≠got ✗):\n{:first$}", "");
    for role in roles {
        let _ = write!(out, " | {role:>10}");
    }
    for (row, cells) in &table {
        let _ = write!(out, "\n{row:first$}");
        for cell in cells {
            let _ = write!(out, " | {cell:>10}");
        }
    }
    panic!(
        "{out}\n\n{} of {cells_checked} cells wrong:\n  {}",
        wrong.len(),
        wrong.join("\n  ")
    );
}

#[tokio::test]
async fn authz_matrix_group() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    run_table("group", &cast, GROUP_ROLES, GROUP_ROWS, || {
        group_scene(&cast)
    })
    .await;
}

#[tokio::test]
async fn authz_matrix_direct() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    run_table("direct", &cast, DIRECT_ROLES, DIRECT_ROWS, || {
        direct_scene(&cast)
    })
    .await;
}

#[tokio::test]
async fn authz_matrix_admin() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    run_table("admin", &cast, ADMIN_ROLES, ADMIN_ROWS, || async {
        Scene {
            vars: HashMap::from([
                ("target", cast.id("target").to_owned()),
                ("other_msg", String::new()),
            ]),
            own: HashMap::new(),
        }
    })
    .await;
}

// ---- Who receives which event ----

/// The viewers of the event table, each on the three paths an event takes, in column order.
const EVENT_VIEWERS: [&str; 3] = ["member", "newcomer", "readded"];
const EVENT_PATHS: [&str; 3] = ["live", "resume", "sync"];

/// `(what, the event kind it makes, whether each viewer receives it)`: `true` on all three
/// paths (live on a socket, on resume with `?since=`, by `/sync`), `false` on none.
type EventRow = (&'static str, &'static str, [bool; 3]);

/// A group: `owner` created it with `member` and `readded`; `owner` sent a text (seq 1) and an
/// image with a caption (seq 2); then `readded` was removed, `newcomer` added and `readded`
/// added back, and `owner` sent a text (seq 3). `newcomer` and `readded` joined at seq 2: API.md
/// has them see only seq 3 on, so no event about seq 1 or 2 may reach them, however late it
/// comes and whichever way they read it. `readded` was a member when those were sent: a member
/// removed and added again has the join point of its last joining.
#[rustfmt::skip]
const EVENT_ROWS: &[EventRow] = &[
    //                                                                   member newcomer readded
    ("edit a text sent before they joined",        "message_updated",   [true,  false,  false]),
    ("edit an image's caption sent before",        "message_updated",   [true,  false,  false]),
    ("delete a text sent before, for everyone",    "message_deleted",   [true,  false,  false]),
    ("member reacts to a text sent before",        "reaction_changed",  [true,  false,  false]),
    ("member reacts to a text sent after",         "reaction_changed",  [true,  true,   true]),
    ("member marks seq 2 read (status ≤ join)",    "message_status",    [true,  false,  false]),
    ("newcomer marks seq 1 read (its own, ≤ join)", "message_status",   [true,  false,  false]),
    ("member marks seq 3 read (status > join)",    "message_status",    [true,  true,   true]),
    ("edit a text sent after they joined",         "message_updated",   [true,  true,   true]),
    ("delete a text sent after, for everyone",     "message_deleted",   [true,  true,   true]),
];

/// The scene of one event row.
struct EventScene {
    conv: String,
    old_text: String,
    image: String,
    new_text: String,
}

async fn event_scene(cast: &Cast) -> EventScene {
    let owner = cast.client("owner");
    let conv = owner
        .create_group("events", &[cast.id("member"), cast.id("readded")])
        .await
        .expect("the group")
        .id;
    let old_text = owner.send_text(&conv, "secret").await.expect("seq 1").id;
    let media = owner
        .upload(png(), "image/png", Some("old.png"))
        .await
        .expect("the upload");
    let image = owner
        .send_message(
            &conv,
            &SendMessageRequest {
                kind: Some("image".into()),
                media_id: Some(media.id),
                text: Some("old caption".into()),
                ..Default::default()
            },
        )
        .await
        .expect("seq 2")
        .value
        .id;
    owner
        .remove_member(&conv, cast.id("readded"))
        .await
        .expect("readded is removed");
    for late in ["newcomer", "readded"] {
        owner
            .add_member(&conv, cast.id(late), None)
            .await
            .unwrap_or_else(|e| panic!("{late} is added: {e}"));
    }
    let new_text = owner.send_text(&conv, "after").await.expect("seq 3").id;
    EventScene {
        conv,
        old_text,
        image,
        new_text,
    }
}

/// Does what `row` says.
async fn act(cast: &Cast, scene: &EventScene, what: &str) {
    let owner = cast.client("owner");
    match what {
        "edit a text sent before they joined" => owner
            .edit_message(&scene.old_text, "secret, edited")
            .await
            .map(drop),
        "edit an image's caption sent before" => owner
            .edit_message(&scene.image, "new caption")
            .await
            .map(drop),
        "delete a text sent before, for everyone" => owner.delete_message(&scene.old_text).await,
        "member reacts to a text sent before" => {
            cast.client("member")
                .add_reaction(&scene.old_text, "👍")
                .await
        }
        "member reacts to a text sent after" => {
            cast.client("member")
                .add_reaction(&scene.new_text, "👍")
                .await
        }
        "member marks seq 2 read (status ≤ join)" => {
            cast.client("member").mark_read(&scene.image).await
        }
        "newcomer marks seq 1 read (its own, ≤ join)" => {
            // Through the socket frame, which takes any seq up to the last.
            let mut socket = cast
                .client("newcomer")
                .connect(None)
                .await
                .expect("a socket");
            socket.read(&scene.conv, 1).await.expect("the read frame");
            // The pong answers only once the frame was acted on; events may come before it.
            socket.ping().await.expect("a ping");
            while !matches!(
                next_frame(&mut socket).await,
                natter_client::ServerFrame::Control(natter_client::ControlFrame::Pong)
            ) {}
            Ok(())
        }
        "member marks seq 3 read (status > join)" => {
            cast.client("member").mark_read(&scene.new_text).await
        }
        "edit a text sent after they joined" => owner
            .edit_message(&scene.new_text, "after, edited")
            .await
            .map(drop),
        "delete a text sent after, for everyone" => owner.delete_message(&scene.new_text).await,
        other => panic!("no action for {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// Whether `events` hold one of `kind` in `conv` that the row caused: the owner's own status
/// marks (moved by its sends) are not the row's.
fn holds(events: &[natter_client::Event], conv: &str, kind: &str, owner: &str) -> bool {
    events.iter().any(|e| {
        let v = serde_json::to_value(e).expect("an event serializes");
        v["type"] == kind && v["data"]["conversation_id"] == conv && v["data"]["user_id"] != owner
    })
}

/// The durable events on `socket` up to the sentinel message.
async fn events_until(
    socket: &mut natter_client::Socket,
    sentinel: &str,
) -> Vec<natter_client::Event> {
    let mut out = Vec::new();
    loop {
        let e = match next_frame(socket).await {
            natter_client::ServerFrame::Event(e) => *e,
            // Typing and presence of the others.
            natter_client::ServerFrame::Ephemeral(_) => continue,
            other => panic!("expected events, got {other:?}"),
        };
        let done = matches!(&e.event, natter_client::EventData::NewMessage(m) if m.id == sentinel);
        out.push(e);
        if done {
            return out;
        }
    }
}

/// The durable events `/sync` gives after `since` up to the sentinel message.
async fn synced_until(client: &Client, since: &str, sentinel: &str) -> Vec<natter_client::Event> {
    let mut out = Vec::new();
    let mut cursor = since.to_owned();
    loop {
        let page = client
            .sync(Some(&cursor), Some(200), Some(5_000))
            .await
            .expect("a sync page");
        cursor = page.next_cursor;
        for e in page.events {
            let done =
                matches!(&e.event, natter_client::EventData::NewMessage(m) if m.id == sentinel);
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

#[tokio::test]
async fn authz_matrix_events() {
    let app = spawn_app().await;
    let cast = Cast::new(&app).await;
    let (readded, _) = app.user("readded").await;
    let readded_id = readded.me().await.expect("readded").id;
    let mut cast = cast;
    cast.clients.insert("readded", readded);
    cast.ids.insert("readded", readded_id);

    let mut table = Vec::new();
    let mut wrong = Vec::new();
    for (what, kind, expect) in EVENT_ROWS {
        let scene = event_scene(&cast).await;
        let mut sockets = Vec::new();
        for viewer in EVENT_VIEWERS {
            sockets.push(cast.client(viewer).connect(None).await.expect("a socket"));
        }
        let since: Vec<String> = sockets.iter().map(|s| s.ready.cursor.clone()).collect();
        act(&cast, &scene, what).await;
        // Every viewer receives this one; what it did not receive before it, it never will.
        let sentinel = cast
            .client("owner")
            .send_text(&scene.conv, "sentinel")
            .await
            .expect("the sentinel")
            .id;
        let mut cells = Vec::new();
        for (i, viewer) in EVENT_VIEWERS.iter().enumerate() {
            let client = cast.client(viewer);
            let live = events_until(&mut sockets[i], &sentinel).await;
            let mut resumed = client.connect(Some(&since[i])).await.expect("a resume");
            let resumed = events_until(&mut resumed, &sentinel).await;
            let synced = synced_until(client, &since[i], &sentinel).await;
            for (path, events) in EVENT_PATHS.iter().zip([live, resumed, synced]) {
                let got = holds(&events, &scene.conv, kind, cast.id("owner"));
                if got != expect[i] {
                    let got: Vec<String> = events
                        .iter()
                        .map(|e| serde_json::to_value(e).unwrap_or_default())
                        .map(|v| format!("{} seq {}", v["type"], v["data"]["seq"]))
                        .collect();
                    wrong.push(format!(
                        "{what}: {viewer} {path}: expected {}, got {got:?}",
                        if expect[i] { "the event" } else { "nothing" },
                    ));
                }
                cells.push(match (expect[i], got == expect[i]) {
                    (true, true) => "gets".to_owned(),
                    (false, true) => "-".to_owned(),
                    (true, false) => "gets≠- ✗".to_owned(),
                    (false, false) => "-≠gets ✗".to_owned(),
                });
            }
        }
        table.push((format!("{what} ({kind})"), cells));
    }
    eprintln!(
        "events: {} rows × {} viewers × {} paths",
        EVENT_ROWS.len(),
        EVENT_VIEWERS.len(),
        EVENT_PATHS.len()
    );
    if wrong.is_empty() {
        return;
    }
    let first = table
        .iter()
        .map(|(r, _)| r.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("events (expected≠got ✗):\n{:first$}", "");
    for viewer in EVENT_VIEWERS {
        for path in EVENT_PATHS {
            let _ = write!(out, " | {:>12}", format!("{viewer} {path}"));
        }
    }
    for (row, cells) in &table {
        let _ = write!(out, "\n{row:first$}");
        for cell in cells {
            let _ = write!(out, " | {cell:>12}");
        }
    }
    panic!(
        "{out}\n\n{} cells wrong:\n  {}",
        wrong.len(),
        wrong.join("\n  ")
    );
}
