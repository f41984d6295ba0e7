import pytest
import torch
from torch import nn

from actionlab.models import MODELS, build_model
from actionlab.models.backbones.timesformer import PatchEmbed, TimeSformer
from actionlab.models.ops.transformer import (
    FFN,
    TRANSFORMER_BLOCKS,
    DividedSpatialAttentionWithNorm,
    DividedTemporalAttentionWithNorm,
    DropPath,
    FFNWithNorm,
    drop_path,
)

FRAMES, DIMS = 3, 16


def tiny(attention_type='divided_space_time', **kwargs) -> TimeSformer:
    model = TimeSformer(**{'num_frames': FRAMES, 'img_size': 32, 'patch_size': 16, 'embed_dims': DIMS,
                           'num_heads': 2, 'num_transformer_layers': 2, 'attention_type': attention_type,
                           **kwargs})
    model.init_weights()
    for m in model.modules():  # let the temporal attention take part
        if isinstance(m, DividedTemporalAttentionWithNorm):
            nn.init.normal_(m.temporal_fc.weight, std=0.2)
    return model.eval()


def sequence_first(attn):
    """The same attention weights in an ``nn.MultiheadAttention`` taking (n, batch, channels)."""
    mha = nn.MultiheadAttention(attn.embed_dim, attn.num_heads).eval()
    mha.load_state_dict(attn.state_dict())
    return mha


def reference_temporal(module, query):
    """MMAction2's DividedTemporalAttentionWithNorm.forward (sequence-first attention)."""
    cls, q = query[:, :1], query[:, 1:]
    b, pt, m = q.shape
    t = module.num_frames
    q = module.norm(q.reshape(b * (pt // t), t, m)).permute(1, 0, 2)
    res = sequence_first(module.attn)(q, q, q)[0].permute(1, 0, 2)
    res = module.temporal_fc(res).reshape(b, pt, m)
    return torch.cat((cls, query[:, 1:] + res), 1)


def reference_spatial(module, query):
    """MMAction2's DividedSpatialAttentionWithNorm.forward."""
    cls, q = query[:, :1], query[:, 1:]
    b, pt, m = q.shape
    t = module.num_frames
    p = pt // t
    cls_t = cls.repeat(1, t, 1).reshape(b * t, m).unsqueeze(1)
    q = q.reshape(b, p, t, m).permute(0, 2, 1, 3).reshape(b * t, p, m)
    q = module.norm(torch.cat((cls_t, q), 1)).permute(1, 0, 2)
    res = sequence_first(module.attn)(q, q, q)[0].permute(1, 0, 2)
    cls_out = res[:, 0].reshape(b, t, m).mean(1, keepdim=True)
    res = res[:, 1:].reshape(b, t, p, m).permute(0, 2, 1, 3).reshape(b, p * t, m)
    return query + torch.cat((cls_out, res), 1)


def test_divided_attentions_match_mmaction2():
    torch.manual_seed(0)
    temporal = DividedTemporalAttentionWithNorm(DIMS, 2, FRAMES).eval()
    spatial = DividedSpatialAttentionWithNorm(DIMS, 2, FRAMES).eval()
    nn.init.normal_(temporal.temporal_fc.weight)
    query = torch.randn(2, 1 + 4 * FRAMES, DIMS)
    torch.testing.assert_close(temporal(query), reference_temporal(temporal, query))
    torch.testing.assert_close(spatial(query), reference_spatial(spatial, query))
    assert torch.equal(temporal(query)[:, 0], query[:, 0])
    with pytest.raises(ValueError, match='own shortcut'):
        temporal(query, residual=query)


def test_temporal_attention_starts_as_identity_and_attends_over_time_only():
    torch.manual_seed(0)
    temporal = DividedTemporalAttentionWithNorm(DIMS, 2, FRAMES).eval()
    query = torch.randn(1, 1 + 2 * FRAMES, DIMS)
    assert torch.equal(temporal(query), query)
    nn.init.normal_(temporal.temporal_fc.weight)
    changed = query.clone()
    changed[0, 1] += 1  # patch 0, frame 0
    diff = (temporal(changed) - temporal(query)).abs().amax(-1)[0]
    # tokens are patch-major: patch 0 = tokens 1..3 reacts, patch 1 = tokens 4..6 does not
    assert torch.all(diff[1:1 + FRAMES] > 0) and torch.all(diff[1 + FRAMES:] == 0) and diff[0] == 0


def test_ffn_layout_and_residuals():
    torch.manual_seed(0)
    ffn = FFN(embed_dims=4, feedforward_channels=8, num_fcs=3, act_cfg=dict(type='GELU'))
    assert sorted(k for k in ffn.state_dict()) == ['layers.0.0.bias', 'layers.0.0.weight', 'layers.1.0.bias',
                                                    'layers.1.0.weight', 'layers.2.bias', 'layers.2.weight']
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(ffn(x), x + ffn.layers(x))
    torch.testing.assert_close(FFN(4, 8, add_residual=False).eval().layers(x).shape, x.shape)
    normed = FFNWithNorm(embed_dims=4, feedforward_channels=8)
    torch.testing.assert_close(normed(x), x + normed.layers(normed.norm(x)))
    with pytest.raises(ValueError, match='num_fcs'):
        FFN(num_fcs=1)


def test_drop_path_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    x = torch.ones(2000, 3)
    out = drop_path(x, 0.25, training=True)
    rows = out[:, 0]
    assert rows.unique().tolist() == pytest.approx([0.0, 4 / 3])
    assert torch.equal(out, rows[:, None].expand(-1, 3))
    assert abs((rows == 0).float().mean().item() - 0.25) < 0.05
    layer = DropPath(0.25).eval()
    assert torch.equal(layer(x), x)


def test_timesformer_state_dict_names_follow_mmaction2():
    keys = tiny().state_dict()
    assert tuple(keys['pos_embed'].shape) == (1, 5, DIMS)
    assert tuple(keys['time_embed'].shape) == (1, FRAMES, DIMS)
    assert tuple(keys['patch_embed.projection.weight'].shape) == (DIMS, 3, 16, 16)
    layer = 'transformer_layers.layers.1.'
    for name, shape in (('attentions.0.norm.weight', (DIMS,)),
                        ('attentions.0.attn.in_proj_weight', (3 * DIMS, DIMS)),
                        ('attentions.0.temporal_fc.weight', (DIMS, DIMS)),
                        ('attentions.1.attn.out_proj.bias', (DIMS,)),
                        ('ffns.0.layers.0.0.weight', (4 * DIMS, DIMS)),
                        ('ffns.0.layers.1.weight', (DIMS, 4 * DIMS)), ('ffns.0.norm.bias', (DIMS,))):
        assert tuple(keys[layer + name].shape) == shape
    assert not any('norms' in k for k in keys)
    joint = tiny('joint_space_time').state_dict()
    assert 'transformer_layers.layers.0.norms.1.weight' in joint and 'time_embed' in joint
    assert 'transformer_layers.layers.0.attentions.0.attn.in_proj_bias' in joint
    assert 'time_embed' not in tiny('space_only').state_dict()


def test_divided_space_time_uses_the_frames_it_sees():
    torch.manual_seed(0)
    model = tiny()
    x = torch.randn(2, 3, FRAMES, 32, 32)
    changed = x.clone()
    changed[0, :, 1] += 1
    diff = (model(changed) - model(x)).abs().amax(1)
    assert diff[0] > 0 and diff[1] == 0
    assert model(x).shape == (2, DIMS)


def test_space_only_averages_per_frame_features():
    torch.manual_seed(0)
    model = tiny('space_only')
    x = torch.randn(1, 3, FRAMES, 32, 32)
    per_frame = []
    for t in range(FRAMES):
        tokens = model.patch_embed(x[:, :, t:t + 1])
        tokens = torch.cat((model.cls_token.expand(1, -1, -1), tokens), 1) + model.pos_embed
        per_frame.append(model.transformer_layers(tokens))
    want = model.norm(torch.stack(per_frame).mean(0)[:, 0])
    torch.testing.assert_close(model(x), want)


def test_joint_space_time_and_inference_mode():
    torch.manual_seed(0)
    for attention in ('joint_space_time', 'divided_space_time'):
        model = tiny(attention)
        x = torch.randn(2, 3, FRAMES, 32, 32)
        with torch.inference_mode():
            fast = model(x.contiguous(memory_format=torch.channels_last_3d))
        torch.testing.assert_close(fast, model(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r'expects \(B, C, 3, 32, 32\)'):
        model(torch.randn(1, 3, FRAMES + 1, 32, 32))


def test_transformer_layers_config_forms():
    layer = dict(type='BaseTransformerLayer',
                 attn_cfgs=[dict(type='MultiheadAttention', embed_dims=DIMS, num_heads=4)],
                 ffn_cfgs=dict(type='FFN', embed_dims=DIMS, feedforward_channels=8),
                 operation_order=('norm', 'self_attn', 'norm', 'ffn'), batch_first=True)
    repeated = tiny('joint_space_time', transformer_layers=layer, num_transformer_layers=3)
    assert len(repeated.transformer_layers.layers) == 3
    assert repeated.transformer_layers.layers[0].attentions[0].attn.num_heads == 4
    listed = tiny('joint_space_time', transformer_layers=[layer, layer])
    sequence = tiny('joint_space_time', transformer_layers=dict(type='TransformerLayerSequence',
                                                                 transformerlayers=layer, num_layers=4))
    assert len(listed.transformer_layers.layers) == 2 and len(sequence.transformer_layers.layers) == 4
    assert sequence(torch.randn(1, 3, FRAMES, 32, 32)).shape == (1, DIMS)
    with pytest.raises(ValueError, match='operation_order'):
        TRANSFORMER_BLOCKS.build(dict(layer, operation_order=('self_attn', 'cross_attn')))
    with pytest.raises(ValueError, match='attention_type'):
        tiny('space_time')


def test_layer_pre_norm_residuals():
    torch.manual_seed(0)
    layer = TRANSFORMER_BLOCKS.build(dict(
        type='BaseTransformerLayer', attn_cfgs=dict(type='MultiheadAttention', embed_dims=8, num_heads=2),
        ffn_cfgs=dict(feedforward_channels=16, act_cfg=dict(type='GELU')),
        operation_order=('norm', 'self_attn', 'norm', 'ffn'), batch_first=True)).eval()
    x = torch.randn(2, 5, 8)
    h = layer.norms[0](x)
    h = x + layer.attentions[0].attn(h, h, h)[0]
    want = h + layer.ffns[0].layers(layer.norms[1](h))
    torch.testing.assert_close(layer(x), want)


def test_pretrained_vit_weights_seed_both_divided_attentions(tmp_path):
    torch.manual_seed(0)
    vit = tiny('joint_space_time').state_dict()  # ViT layout: norms.0/1, one attention per layer
    path = tmp_path / 'vit.pth'
    torch.save({'state_dict': vit}, path)
    model = tiny(pretrained=str(path))
    layer = model.transformer_layers.layers[1]
    src = 'transformer_layers.layers.1.'
    for attn in layer.attentions:
        torch.testing.assert_close(attn.attn.in_proj_weight, vit[src + 'attentions.0.attn.in_proj_weight'])
        torch.testing.assert_close(attn.norm.weight, vit[src + 'norms.0.weight'])
    torch.testing.assert_close(layer.ffns[0].norm.bias, vit[src + 'norms.1.bias'])
    torch.testing.assert_close(layer.ffns[0].layers[1].weight, vit[src + 'ffns.0.layers.1.weight'])
    torch.testing.assert_close(model.pos_embed, vit['pos_embed'])


def test_patch_embed():
    embed = PatchEmbed(img_size=(32, 48), patch_size=16, in_channels=3, embed_dims=8)
    assert embed.num_patches == 6
    x = torch.randn(2, 3, 4, 32, 48)
    tokens = embed(x)
    assert tokens.shape == (8, 6, 8)
    # token 1 of clip 1, frame 2 = the patch at row 0, column 1
    patch = x[1, :, 2, :16, 16:32]
    want = (embed.projection.weight * patch).sum((1, 2, 3)) + embed.projection.bias
    torch.testing.assert_close(tokens[4 + 2, 1], want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='multiple of patch_size'):
        PatchEmbed(img_size=30, patch_size=16)


def test_timesformer_recognizer_trains_and_tests():
    torch.manual_seed(0)
    model = build_model(dict(
        type='Recognizer3D',
        backbone=dict(type='TimeSformer', num_frames=FRAMES, img_size=32, patch_size=16, embed_dims=DIMS,
                      num_heads=2, num_transformer_layers=1),
        cls_head=dict(type='TimeSformerHead', num_classes=5, in_channels=DIMS),
        test_cfg=dict(average_clips='prob')))
    head = model.cls_head
    assert head.fc_cls.bias.abs().sum() == 0 and 0.005 < head.fc_cls.weight.std() < 0.04
    x = torch.randn(2, 1, 3, FRAMES, 32, 32)
    losses = model(x, torch.tensor([1, 3]))
    losses['loss_cls'].backward()
    temporal = model.backbone.transformer_layers.layers[0].attentions[0]
    assert temporal.temporal_fc.weight.grad.abs().sum() > 0
    model.eval()
    scores = model(torch.randn(2, 2, 3, FRAMES, 32, 32), return_loss=False)
    assert scores.shape == (2, 5)
    torch.testing.assert_close(scores.sum(1), torch.ones(2))
    assert isinstance(MODELS.build(dict(type='TimeSformerHead', num_classes=3, in_channels=4)), nn.Module)
